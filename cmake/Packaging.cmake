# The Debian package (issue #15 item 6): `cpack -G DEB` in the build directory,
# after `ninja pilotlight` (or `ninja -C build deb`, which does both).
#
#   /usr/bin/pilotlight
#   /lib/systemd/system/pilotlight-{controller,dns}.service,
#                       pilotlight-agent@.service (instance: the region),
#                       pilotlight-probe@.service (instance: the site)
#   /etc/pilotlight/pilotlight.yaml.example, /etc/pilotlight/secrets/ (0700)
#   /var/lib/pilotlight/                       the services' state
#   /usr/share/doc/pilotlight/deploy.md
# postinst makes the `pilotlight` system user and gives it the state and the
# secrets; it enables no unit (which ones run depends on the host: docs/deploy.md).
# Depends: what dpkg-shlibdeps finds the binary needs, and adduser. The package
# is checked by scripts/package-check (ctest package.deb).

# Installing only copies the binary: the tests and benchmarks are not built for it
# (and `cpack` does not build `all` first).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(pl_packaging ${PROJECT_SOURCE_DIR}/packaging)
install(TARGETS pilotlight RUNTIME DESTINATION bin)
install(FILES ${pl_packaging}/systemd/pilotlight-controller.service
              ${pl_packaging}/systemd/pilotlight-dns.service
              ${pl_packaging}/systemd/pilotlight-agent@.service
              ${pl_packaging}/systemd/pilotlight-probe@.service
        DESTINATION /lib/systemd/system)
install(FILES ${pl_packaging}/pilotlight.yaml.example DESTINATION /etc/pilotlight)
install(DIRECTORY DESTINATION /etc/pilotlight/secrets)
install(DIRECTORY DESTINATION /var/lib/pilotlight)
install(FILES ${PROJECT_SOURCE_DIR}/docs/deploy.md DESTINATION share/doc/pilotlight)

set(CPACK_PACKAGE_NAME pilotlight)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "pilotlight")
set(CPACK_PACKAGE_CONTACT "pilotlight maintainers <pilotlight@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "pilot-light disaster recovery for a trading platform")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "Detects a dead region, fails over safely (fence, promote, DNS), and measures RTO and RPO.\n"
       "Ships the pilotlight command and systemd units for the controller, the region agent,\n"
       "the probe agent and the authoritative DNS server, run as the pilotlight system user.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # RelWithDebInfo: the package carries no debug info
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # pilotlight_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst; shlibdeps' list is appended
# PostgreSQL's client tools (pg_basebackup: rejoin, backup verify) on the database
# hosts, which have the server anyway; the witness needs neither.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client-15")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-15, etcd-server, bind9-dnsutils")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pl_packaging}/debian/conffiles ${pl_packaging}/debian/postinst
    ${pl_packaging}/debian/prerm ${pl_packaging}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
# The directory's contents are owned by root in the package (postinst hands the
# state and the secrets to pilotlight); 0755 directories unless postinst says otherwise.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)

# `ninja -C build deb`: the binary, then the package in the build directory.
add_custom_target(deb
                  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config
                          ${PROJECT_BINARY_DIR}/CPackConfig.cmake
                  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
                  DEPENDS pilotlight
                  COMMENT "cpack -G DEB"
                  USES_TERMINAL)

# CI (scripts/test runs every ctest): build the package and check it, install included.
add_test(NAME package.deb COMMAND ${PROJECT_SOURCE_DIR}/scripts/package-check ${PROJECT_BINARY_DIR})
set_tests_properties(package.deb PROPERTIES LABELS package TIMEOUT 300 RUN_SERIAL TRUE)
