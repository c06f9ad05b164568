#include "controller/leader.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "controller/http_call.h"
#include "core/duration.h"
#include "core/log.h"
#include "sys/whole_file.h"

namespace pilotlight::controller {

using json = nlohmann::json;

// ---- LeaderIdentity --------------------------------------------------------------

std::string LeaderIdentity::ToJson() const {
  return json{{"name", name}, {"host", host}, {"pid", pid}}.dump();
}

LeaderIdentity LeaderIdentity::FromJson(const std::string& text) {
  LeaderIdentity id;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    id.name = text.substr(0, 200);
    return id;
  }
  id.name = j["name"].get<std::string>();
  if (j.contains("host") && j["host"].is_string()) id.host = j["host"].get<std::string>();
  if (j.contains("pid") && j["pid"].is_number_integer()) id.pid = j["pid"].get<int64_t>();
  return id;
}

std::string LeaderIdentity::ToString() const {
  return name + " (" + (host.empty() ? "?" : host) + ", pid " + std::to_string(pid) + ")";
}

// ---- LeaderElection ----------------------------------------------------------------

const char* ElectionStateName(LeaderElection::State state) {
  switch (state) {
    case LeaderElection::State::kCampaigning:
      return "campaigning";
    case LeaderElection::State::kLeading:
      return "leading";
    case LeaderElection::State::kFollowing:
      return "following";
    case LeaderElection::State::kLost:
      return "lost";
  }
  return "?";
}

LeaderElection::LeaderElection(Options options) : options_(options) {}

bool LeaderElection::Leading(MonoTime now) const {
  return state_ == State::kLeading && session_until_ &&
         now < *session_until_ - options_.safety_margin;
}

std::optional<MonoTime> LeaderElection::leading_until() const {
  if (state_ != State::kLeading || !session_until_) return std::nullopt;
  return *session_until_ - options_.safety_margin;
}

void LeaderElection::LoseLeadership() {
  if (state_ == State::kLeading) state_ = State::kLost;
}

LeaderElection::Action LeaderElection::Next(MonoTime now) {
  if (state_ == State::kLeading && !Leading(now)) LoseLeadership();
  if (lease_id_ != 0 && session_until_ && now >= *session_until_) {
    // Our session is over by our count: a new one, then campaign again.
    lease_id_ = 0;
    session_until_.reset();
  }
  if (now < backoff_until_) return Action::kWait;
  if (lease_id_ == 0) return Action::kGrant;
  if (now >= next_keepalive_) return Action::kKeepAlive;
  if (now >= next_campaign_) return Action::kCampaign;
  return Action::kWait;
}

MonoTime LeaderElection::NextWakeup(MonoTime now) const {
  if (now < backoff_until_) return backoff_until_;
  if (lease_id_ == 0) return now;
  MonoTime at = std::min(next_keepalive_, next_campaign_);
  if (const std::optional<MonoTime> until = leading_until()) at = std::min(at, *until);
  return std::max(at, now);
}

void LeaderElection::Granted(MonoTime sent_at, int64_t lease_id, Duration ttl, MonoTime now) {
  if (lease_id == 0 || ttl <= Duration(0)) {
    Failed(now, "etcd granted no usable lease");
    return;
  }
  lease_id_ = lease_id;
  granted_ttl_ = ttl;
  session_until_ = sent_at + ttl;
  next_keepalive_ = sent_at + ttl / 3;
  next_campaign_ = now;  // campaign at once with the new session
  last_error_.clear();
}

void LeaderElection::KeptAlive(MonoTime sent_at, Duration ttl, MonoTime now) {
  if (lease_id_ == 0) return;  // a late answer for a session we gave up
  if (ttl <= Duration(0)) {
    // etcd no longer has our lease: the key (if ours) is gone with it.
    LoseLeadership();
    lease_id_ = 0;
    session_until_.reset();
    last_error_ = "etcd says our session lease expired";
    return;
  }
  // Only a keepalive sent while our count still ran may extend it: if the
  // session had already ended by our count, a leader must not come back from
  // kLost without winning a campaign again (the key may be someone else's).
  if (session_until_ && sent_at < *session_until_) {
    session_until_ = std::max(*session_until_, sent_at + ttl);
  }
  next_keepalive_ = sent_at + granted_ttl_ / 3;
  if (next_keepalive_ <= now) next_keepalive_ = now + granted_ttl_ / 3;
  last_error_.clear();
}

void LeaderElection::CampaignAnswered(MonoTime sent_at, const CampaignResult& result,
                                      MonoTime now) {
  (void)sent_at;
  if (lease_id_ == 0) return;
  const bool ours = result.won || (result.holder_lease != 0 && result.holder_lease == lease_id_);
  if (ours) {
    // Leading only while our own count of the session runs (Leading(now)).
    if (state_ != State::kLeading && session_until_ &&
        now < *session_until_ - options_.safety_margin) {
      state_ = State::kLeading;
    }
    next_campaign_ = now + granted_ttl_ / 3;  // re-check that the key is still ours
  } else {
    state_ = result.holder_value.empty() ? State::kCampaigning : State::kFollowing;
    leader_value_ = result.holder_value;
    next_campaign_ = now + options_.retry_every;
  }
  if (ours) leader_value_.clear();
  last_error_.clear();
}

void LeaderElection::Failed(MonoTime now, const std::string& why) {
  last_error_ = why;
  backoff_until_ = now + options_.retry_every;
  if (state_ == State::kLeading && !Leading(now)) LoseLeadership();
}

void LeaderElection::Resigned(MonoTime now) {
  (void)now;
  LoseLeadership();
  state_ = State::kCampaigning;
  lease_id_ = 0;
  session_until_.reset();
}

// ---- etcd over its JSON gateway ------------------------------------------------------

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Unbase64(const std::string& in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    acc = (acc << 6) | uint32_t(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The gateway writes int64 as strings; accept numbers too.
int64_t Int64Field(const json& j, const char* name) {
  if (!j.is_object() || !j.contains(name)) return 0;
  const json& v = j[name];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

struct Url {
  std::string host;
  uint16_t port = 0;
};

Result<Url> ParseUrl(const std::string& text) {
  const std::string prefix = "http://";
  if (text.rfind(prefix, 0) != 0) {
    return Status::InvalidArgument("etcd endpoint \"" + text +
                                   "\": expected http://HOST:PORT (TLS is not supported)");
  }
  std::string rest = text.substr(prefix.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos) {
    return Status::InvalidArgument("etcd endpoint \"" + text + "\": expected http://HOST:PORT");
  }
  Url u;
  u.host = rest.substr(0, colon);
  if (u.host.size() > 2 && u.host.front() == '[' && u.host.back() == ']') {
    u.host = u.host.substr(1, u.host.size() - 2);
  }
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
      std::stoi(port) > 65535) {
    return Status::InvalidArgument("etcd endpoint \"" + text + "\": bad port \"" + port + "\"");
  }
  u.port = static_cast<uint16_t>(std::stoi(port));
  return u;
}

// etcd's answer to a request whose auth token it does not accept (or that has none).
constexpr char kAuthRefused[] = "etcd refused the credential: ";

Result<std::string> HttpPost(const Url& url, const std::string& path, const std::string& body,
                             Duration timeout, const std::string& token) {
  HttpRequestSpec request;
  request.method = "POST";
  request.target = path;
  request.body = body;
  request.headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) request.headers.push_back({"Authorization", token});
  request.resolve_names = true;  // etcd endpoints may be names
  request.body_limit = 1 << 20;
  Result<HttpReply> reply = HttpCall(url.host, url.port, request, timeout);
  if (!reply.ok()) return reply.status();
  if (reply->status == 401 || reply->body.find("invalid auth token") != std::string::npos ||
      reply->body.find("user name is empty") != std::string::npos) {
    return Status::FailedPrecondition(kAuthRefused + ("http://" + url.host + ":" +
                                      std::to_string(url.port) + path + ": HTTP " +
                                      std::to_string(reply->status) + ": " +
                                      reply->body.substr(0, 300)));
  }
  if (reply->status != 200) {
    return Status::Unavailable("http://" + url.host + ":" + std::to_string(url.port) + path +
                               ": HTTP " + std::to_string(reply->status) + ": " +
                               reply->body.substr(0, 300));
  }
  return std::move(reply->body);
}

// The keepalive gateway streams {"result": {...}} objects; we send one request
// and read the first answer. Errors come as {"error": {...}}.
Result<json> ParseAnswer(const std::string& path, const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // A stream of several JSON objects: take the first line.
    j = json::parse(text.substr(0, text.find('\n')), nullptr, false);
  }
  if (!j.is_object()) return Status::Unavailable("etcd " + path + ": not a JSON answer");
  if (j.contains("error")) {
    return Status::Unavailable("etcd " + path + ": " + j["error"].dump().substr(0, 300));
  }
  if (j.contains("result") && j["result"].is_object()) return j["result"];
  return j;
}

}  // namespace

Result<std::vector<std::string>> ParseEtcdEndpoints(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string one = text.substr(start, comma - start);
    if (!one.empty()) {
      Result<Url> u = ParseUrl(one);
      if (!u.ok()) return u.status();
      out.push_back(one);
    }
    start = comma + 1;
  }
  if (out.empty()) {
    return Status::InvalidArgument("no etcd endpoint in \"" + text +
                                   "\": expected http://HOST:PORT[,http://HOST:PORT...]");
  }
  return out;
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, Duration timeout, std::string user,
                       std::string password_file)
    : endpoints_(std::move(endpoints)),
      timeout_(timeout),
      user_(std::move(user)),
      password_file_(std::move(password_file)) {}

Status EtcdClient::LogIn() {
  token_.clear();
  Result<std::string> password = sys::ReadSecretFile(password_file_, "the etcd password file");
  if (!password.ok()) return password.status();
  Result<std::string> text =
      PostOnce("/v3/auth/authenticate", json{{"name", user_}, {"password", *password}}.dump());
  if (!text.ok()) return text.status().Annotate("etcd login as " + user_);
  Result<json> answer = ParseAnswer("/v3/auth/authenticate", *text);
  if (!answer.ok()) return answer.status().Annotate("etcd login as " + user_);
  if (!answer->contains("token") || !(*answer)["token"].is_string()) {
    return Status::Unavailable("etcd login as " + user_ + ": the answer holds no token");
  }
  token_ = (*answer)["token"].get<std::string>();
  return Status::OK();
}

Result<std::string> EtcdClient::Post(const std::string& path, const std::string& body) {
  if (!user_.empty() && token_.empty()) PL_RETURN_IF_ERROR(LogIn());
  Result<std::string> r = PostOnce(path, body);
  if (r.ok() || user_.empty() ||
      r.status().message().find(kAuthRefused) == std::string::npos) {
    return r;
  }
  // The token expired (etcd's simple tokens live minutes) or the member that
  // issued it restarted: log in again, once.
  PL_RETURN_IF_ERROR(LogIn());
  return PostOnce(path, body);
}

Result<std::string> EtcdClient::PostOnce(const std::string& path, const std::string& body) {
  if (endpoints_.empty()) return Status::InvalidArgument("no etcd endpoints");
  std::string errors;
  for (size_t n = 0; n < endpoints_.size(); ++n) {
    const size_t i = (next_ + n) % endpoints_.size();
    Result<Url> url = ParseUrl(endpoints_[i]);
    if (!url.ok()) return url.status();
    Result<std::string> r = HttpPost(*url, path, body, timeout_, token_);
    if (r.ok()) {
      next_ = i;
      return r;
    }
    errors += (errors.empty() ? "" : "; ") + r.status().message();
  }
  next_ = (next_ + 1) % endpoints_.size();
  return Status::Unavailable(errors);
}

Result<std::pair<int64_t, Duration>> EtcdClient::Grant(Duration ttl) {
  const int64_t secs =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(ttl).count());
  Result<std::string> text = Post("/v3/lease/grant", json{{"TTL", std::to_string(secs)}}.dump());
  if (!text.ok()) return text.status();
  Result<json> j = ParseAnswer("lease grant", *text);
  if (!j.ok()) return j.status();
  const int64_t id = Int64Field(*j, "ID");
  const int64_t got = Int64Field(*j, "TTL");
  if (id == 0 || got <= 0) return Status::Unavailable("etcd lease grant: no lease in the answer");
  return std::make_pair(id, Duration(std::chrono::seconds(got)));
}

Result<Duration> EtcdClient::KeepAlive(int64_t lease_id) {
  Result<std::string> text =
      Post("/v3/lease/keepalive", json{{"ID", std::to_string(lease_id)}}.dump());
  if (!text.ok()) return text.status();
  Result<json> j = ParseAnswer("lease keepalive", *text);
  if (!j.ok()) return j.status();
  return Duration(std::chrono::seconds(Int64Field(*j, "TTL")));
}

Result<CampaignResult> EtcdClient::Campaign(const std::string& key, const std::string& value,
                                            int64_t lease_id) {
  const std::string k = Base64(key);
  const json body = {
      {"compare",
       json::array(
           {{{"key", k}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}})},
      {"success",
       json::array(
           {{{"request_put",
              {{"key", k}, {"value", Base64(value)}, {"lease", std::to_string(lease_id)}}}}})},
      {"failure", json::array({{{"request_range", {{"key", k}}}}})}};
  Result<std::string> text = Post("/v3/kv/txn", body.dump());
  if (!text.ok()) return text.status();
  Result<json> j = ParseAnswer("txn", *text);
  if (!j.ok()) return j.status();
  CampaignResult r;
  r.won = j->value("succeeded", false);
  if (r.won) {
    r.holder_lease = lease_id;
    r.holder_value = value;
    return r;
  }
  if (!j->contains("responses") || !(*j)["responses"].is_array() || (*j)["responses"].empty()) {
    return Status::Unavailable("etcd txn: a failed compare without the range answer");
  }
  const json& range = (*j)["responses"][0];
  if (!range.is_object() || !range.contains("response_range")) {
    return Status::Unavailable("etcd txn: no response_range in the answer");
  }
  const json& rr = range["response_range"];
  if (rr.is_object() && rr.contains("kvs") && rr["kvs"].is_array() && !rr["kvs"].empty()) {
    const json& kv = rr["kvs"][0];
    r.holder_lease = Int64Field(kv, "lease");
    std::optional<std::string> v = Unbase64(
        kv.contains("value") && kv["value"].is_string() ? kv["value"].get<std::string>() : "");
    if (!v) return Status::Unavailable("etcd txn: the key's value is not base64");
    r.holder_value = *v;
  }
  return r;
}

Result<std::optional<std::string>> EtcdClient::Get(const std::string& key) {
  Result<std::string> text = Post("/v3/kv/range", json{{"key", Base64(key)}}.dump());
  if (!text.ok()) return text.status();
  Result<json> j = ParseAnswer("range", *text);
  if (!j.ok()) return j.status();
  if (!j->contains("kvs") || !(*j)["kvs"].is_array() || (*j)["kvs"].empty()) {
    return std::optional<std::string>();
  }
  const json& kv = (*j)["kvs"][0];
  std::optional<std::string> v = Unbase64(
      kv.contains("value") && kv["value"].is_string() ? kv["value"].get<std::string>() : "");
  if (!v) return Status::Unavailable("etcd range: the key's value is not base64");
  return std::optional<std::string>(*v);
}

Status EtcdClient::Revoke(int64_t lease_id) {
  Result<std::string> text =
      Post("/v3/lease/revoke", json{{"ID", std::to_string(lease_id)}}.dump());
  if (!text.ok()) return text.status();
  return ParseAnswer("lease revoke", *text).status();
}

Status EtcdClient::Put(const std::string& key, const std::string& value) {
  Result<std::string> text =
      Post("/v3/kv/put", json{{"key", Base64(key)}, {"value", Base64(value)}}.dump());
  if (!text.ok()) return text.status();
  return ParseAnswer("put", *text).status();
}

// ---- EtcdLeadership --------------------------------------------------------------------

EtcdLeadership::EtcdLeadership(EtcdLeadershipOptions options, Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      client_(options_.endpoints, options_.request_timeout, options_.user, options_.password_file),
      election_(options_.election) {}

EtcdLeadership::~EtcdLeadership() { Stop(); }

Status EtcdLeadership::Start() {
  Status reachable = Status::OK();
  {
    const MonoTime sent = clock_.Monotonic();
    Result<std::pair<int64_t, Duration>> g = client_.Grant(options_.election.ttl);
    std::lock_guard<std::mutex> lock(mu_);
    if (g.ok()) {
      election_.Granted(sent, g->first, g->second, clock_.Monotonic());
    } else {
      election_.Failed(clock_.Monotonic(), g.status().message());
      reachable = Status::Unavailable("cannot reach etcd at " +
                                      [&] {
                                        std::string s;
                                        for (const std::string& e : options_.endpoints)
                                          s += (s.empty() ? "" : ",") + e;
                                        return s;
                                      }() +
                                      " (" + g.status().message() +
                                      "); this controller will not act until it leads "
                                      "through etcd; retrying every " +
                                      FormatDuration(options_.election.retry_every));
    }
  }
  thread_ = std::thread([this] { Loop(); });
  return reachable;
}

void EtcdLeadership::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  int64_t lease = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = election_.lease_id();
    election_.Resigned(clock_.Monotonic());
    leading_since_.reset();
  }
  if (lease != 0) {
    Status st = client_.Revoke(lease);
    if (st.ok()) {
      LogInfo("leadership: resigned (session lease revoked, key " + options_.key + " released)");
    } else {
      LogWarn("leadership: could not revoke the session lease (" + st.message() +
              "); a follower takes over when it expires");
    }
  }
}

bool EtcdLeadership::Leading() const {
  std::lock_guard<std::mutex> lock(mu_);
  return election_.Leading(clock_.Monotonic());
}

Leadership::View EtcdLeadership::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  View v;
  const MonoTime now = clock_.Monotonic();
  const bool leading = election_.Leading(now);
  v.role = leading ? "leading"
           : election_.state() == LeaderElection::State::kLeading
               ? "lost"
               : ElectionStateName(election_.state());
  v.self = options_.self;
  if (leading) {
    v.leader = options_.self;
    v.leading_since = leading_since_;
  } else if (!election_.leader_value().empty()) {
    v.leader = LeaderIdentity::FromJson(election_.leader_value());
  }
  v.detail = election_.last_error();
  v.key = options_.key;
  for (const std::string& e : options_.endpoints)
    v.endpoints += (v.endpoints.empty() ? "" : ",") + e;
  return v;
}

void EtcdLeadership::LogChange(LeaderElection::State before, std::optional<MonoTime> until) {
  const LeaderElection::State after = election_.state();
  const MonoTime mono = clock_.Monotonic();
  const WallTime wall = clock_.Now();
  if (before == LeaderElection::State::kLeading && after != LeaderElection::State::kLeading) {
    leading_since_.reset();
    const MonoTime ended = std::min(mono, until.value_or(mono));
    LogWarn("leadership: LOST; leading ended at " + FormatTime(wall - (mono - ended)) +
            (election_.last_error().empty() ? "" : " (" + election_.last_error() + ")") +
            "; no new runbook step starts, the write lease is no longer granted");
  }
  if (after == before) return;
  switch (after) {
    case LeaderElection::State::kLeading:
      leading_since_ = wall;
      LogInfo("leadership: leading from " + FormatTime(wall) + " (key " + options_.key +
              ", session lease " + std::to_string(election_.lease_id()) + ")");
      break;
    case LeaderElection::State::kFollowing:
      LogInfo("leadership: following " +
              LeaderIdentity::FromJson(election_.leader_value()).ToString());
      break;
    case LeaderElection::State::kCampaigning:
      LogInfo("leadership: campaigning for " + options_.key);
      break;
    case LeaderElection::State::kLost:
      break;
  }
}

void EtcdLeadership::Step() {
  LeaderElection::Action action;
  int64_t lease = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const LeaderElection::State before = election_.state();
    const std::optional<MonoTime> until = election_.leading_until();
    action = election_.Next(clock_.Monotonic());
    LogChange(before, until);
    lease = election_.lease_id();
  }
  const MonoTime sent = clock_.Monotonic();
  auto report = [&](auto&& apply) {
    std::lock_guard<std::mutex> lock(mu_);
    const LeaderElection::State before = election_.state();
    const std::optional<MonoTime> until = election_.leading_until();
    apply();
    LogChange(before, until);
  };
  switch (action) {
    case LeaderElection::Action::kWait:
      return;
    case LeaderElection::Action::kGrant: {
      Result<std::pair<int64_t, Duration>> g = client_.Grant(options_.election.ttl);
      report([&] {
        if (g.ok())
          election_.Granted(sent, g->first, g->second, clock_.Monotonic());
        else
          election_.Failed(clock_.Monotonic(), g.status().message());
      });
      NoteError(g.ok() ? "" : "leadership: etcd: " + g.status().message());
      return;
    }
    case LeaderElection::Action::kKeepAlive: {
      Result<Duration> ttl = client_.KeepAlive(lease);
      report([&] {
        if (ttl.ok())
          election_.KeptAlive(sent, *ttl, clock_.Monotonic());
        else
          election_.Failed(clock_.Monotonic(), ttl.status().message());
      });
      NoteError(ttl.ok() ? "" : "leadership: etcd keepalive: " + ttl.status().message());
      return;
    }
    case LeaderElection::Action::kCampaign: {
      Result<CampaignResult> c = client_.Campaign(options_.key, options_.self.ToJson(), lease);
      report([&] {
        if (c.ok())
          election_.CampaignAnswered(sent, *c, clock_.Monotonic());
        else
          election_.Failed(clock_.Monotonic(), c.status().message());
      });
      NoteError(c.ok() ? "" : "leadership: etcd campaign: " + c.status().message());
      return;
    }
  }
}

void EtcdLeadership::NoteError(const std::string& error) {
  if (error == last_logged_error_) return;
  if (error.empty()) {
    LogInfo("leadership: etcd answers again");
  } else {
    LogWarn(error);
  }
  last_logged_error_ = error;
}

void EtcdLeadership::Loop() {
  while (!stop_.load()) {
    Step();
    MonoTime wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake = election_.NextWakeup(clock_.Monotonic());
    }
    // Short naps: Stop() is noticed within 50 ms, and a SIGSTOP/SIGCONT is
    // noticed at the next Leading() call anyway (it reads the clock).
    const Duration nap =
        std::clamp<Duration>(wake - clock_.Monotonic(), Duration(0), std::chrono::milliseconds(50));
    if (nap > Duration(0)) clock_.SleepFor(nap);
  }
}

}  // namespace pilotlight::controller
