// `alarms`, `topics` (with their subscribers) and `detection`; then the names
// the detection sections give each other (topics, checks, children) are
// resolved, and the detection's own validator runs.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <functional>
#include <sstream>
#include "config/config_reader.h"
#include "config/values.h"
#include "core/duration.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kAlarmKeys[] = {
    "name",
    "description",
    "metric",
    "check",
    "statistic",
    "period",
    "comparison",
    "threshold",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "topics",
};
// In the order of the alarm enums.
constexpr std::string_view kStatistics[] = {"avg", "min", "max", "sum", "count", "p99"};
constexpr std::string_view kComparisons[] = {">=", ">", "<", "<="};
constexpr std::string_view kMissingData[] = {"missing", "ignore", "breaching", "notBreaching"};
constexpr std::string_view kTopicKeys[] = {"name", "subscribers"};
constexpr std::string_view kSubscriberKeys[] = {"name",    "type",     "url",        "secret_env",
                                                "ca_file", "command",  "path",       "timeout",
                                                "backoff", "deadline", "queue_limit"};
constexpr std::string_view kSubscriberCommonKeys[] = {"name",    "type",     "timeout",
                                                      "backoff", "deadline", "queue_limit"};
constexpr std::string_view kSubscriberTypes[] = {"webhook", "exec", "file"};
constexpr notify::SubscriberKind kSubscriberKinds[] = {
    notify::SubscriberKind::kWebhook, notify::SubscriberKind::kExec, notify::SubscriberKind::kFile};
constexpr std::string_view kBackoffKeys[] = {"initial", "max"};
constexpr std::string_view kDetectionKeys[] = {"alarm_evaluation_interval"};
constexpr int64_t kMaxEvaluationPeriods = 1000;
constexpr int64_t kMaxQueueLimit = 1'000'000;
constexpr NamePattern kAlarmName{"a-z", "a-z0-9_.-", 62,
                                 "an alarm name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kSubscriberName{"a-z", "a-z0-9_.-", 62,
                                      "a subscriber name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kEnvName{"A-Za-z_", "A-Za-z0-9_", 127,
                               "an environment variable name matching [A-Za-z_][A-Za-z0-9_]*"};

}  // namespace

void ConfigReader::ReadAlarms(const Field& f, Config& config) {
  alarms_where_ = Where(At(f));
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items = Elements(f, "a sequence of alarms");
  if (!items) return;
  for (const Field& item : *items) ReadAlarm(item, config);
}

void ConfigReader::ReadAlarm(const Field& item, Config& config) {
  const std::optional<Mapping> m =
      FieldMapping(item, "an alarm mapping with a name and a metric or a check", kAlarmKeys);
  if (!m) return;
  alarm::AlarmSpec a;
  const size_t index = config.detection.alarms.size();
  if (const Field* n = Require(*m, "name", kAlarmName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kAlarmName)) {
      Define(alarm_names_, *name, item.path, *n, "an alarm name");
      a.name = std::move(*name);
    }
  }
  if (const Field* d = m->Find("description")) {
    if (std::optional<std::string> text = ReadScalar(*d, "a description")) a.description = *text;
  }
  const Field* metric = m->Find("metric");
  const Field* check = m->Find("check");
  if (metric != nullptr && check != nullptr) {
    Report(check->key.Mark(), check->path, "either metric or check, not both",
           "both metric and check");
  } else if (metric == nullptr && check == nullptr) {
    Report(m->mark, Child(m->path, "metric"),
           "a metric (metric: name{label=\"value\"}) or a check (check: NAME)",
           "neither metric nor check");
  }
  if (check != nullptr) {
    // An alarm on a check fires while the check is unhealthy, unless told otherwise.
    a.statistic = alarm::Statistic::kMinimum;
    a.comparison = alarm::Comparison::kLess;
    a.threshold = 1;
    if (std::optional<std::string> name = ReadName(*check, kCheckName)) {
      check_refs_.push_back({*name, check->path, Where(At(*check)), index});
      a.metric = health::CheckHealthyMetric(*name);
    }
  }
  if (metric != nullptr) {
    constexpr std::string_view kMetric = "a metric such as name{label=\"value\"}";
    if (std::optional<std::string> text = ReadScalar(*metric, kMetric)) {
      std::string problem;
      if (std::optional<alarm::MetricKey> key = ParseMetric(*text, problem)) {
        // A check's status metric must name a check that exists.
        const alarm::MetricKey probe = health::CheckHealthyMetric("x");
        if (key->name == probe.name) {
          for (const auto& [label, value] : key->labels) {
            if (label == "check") {
              check_refs_.push_back({value, metric->path, Where(At(*metric)), index});
            }
          }
        }
        a.metric = std::move(*key);
      } else {
        Report(At(*metric), metric->path, problem, Quote(*text));
      }
    }
  }
  if (const Field* s = m->Find("statistic")) {
    if (std::optional<size_t> i = ReadChoice(*s, kStatistics, "a statistic")) {
      a.statistic = static_cast<alarm::Statistic>(*i);
    }
  }
  if (const Field* c = m->Find("comparison")) {
    if (std::optional<size_t> i = ReadChoice(*c, kComparisons, "a comparison")) {
      a.comparison = static_cast<alarm::Comparison>(*i);
    }
  }
  if (const Field* t = m->Find("treat_missing_data")) {
    if (std::optional<size_t> i = ReadChoice(*t, kMissingData, "a missing-data treatment")) {
      a.missing_data = static_cast<alarm::MissingData>(*i);
    }
  }
  if (const Field* p = m->Find("period")) {
    const std::optional<Duration> d = ReadDuration(
        *p, std::chrono::milliseconds(100), std::chrono::hours(24), "a duration from 100ms to 24h");
    if (d) a.period = *d;
  }
  if (const Field* t = m->Find("threshold")) {
    constexpr std::string_view kNumber = "a finite number such as 1 or 0.5";
    if (std::optional<std::string> text = ReadScalar(*t, kNumber)) {
      if (std::optional<double> v = ParseNumber(*text)) {
        a.threshold = *v;
      } else {
        Report(At(*t), t->path, std::string(kNumber), Quote(*text));
      }
    }
  }
  const std::string kPeriods = "an integer 1-" + std::to_string(kMaxEvaluationPeriods);
  bool periods_ok = true;
  if (const Field* e = m->Find("evaluation_periods")) {
    const std::optional<int64_t> n = ReadInteger(*e, 1, kMaxEvaluationPeriods, kPeriods);
    if (n) a.evaluation_periods = static_cast<int>(*n);
    periods_ok = n.has_value();
  }
  if (const Field* d = m->Find("datapoints_to_alarm")) {
    const std::optional<int64_t> n = ReadInteger(*d, 1, kMaxEvaluationPeriods, kPeriods);
    if (n && periods_ok && *n > a.evaluation_periods) {
      Report(At(*d), d->path,
             "at most evaluation_periods (" + std::to_string(a.evaluation_periods) + ")",
             Quote(d->value.Scalar()));
    } else if (n) {
      a.datapoints_to_alarm = static_cast<int>(*n);
    }
  }
  if (const Field* t = m->Find("topics")) {
    for (auto& [name, field] : ReadNames(*t, kTopicName, "a sequence of topic names")) {
      topic_refs_.push_back({name, field.path, Where(At(field)), index});
      a.topics.push_back(std::move(name));
    }
  }
  config.detection.alarms.push_back(std::move(a));
  alarm_where_.push_back(Where(m->mark));
}

void ConfigReader::ReadTopics(const Field& f, Config& config) {
  topics_where_ = Where(At(f));
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items = Elements(f, "a sequence of topics");
  if (!items) return;
  for (const Field& item : *items) ReadTopic(item, config);
}

void ConfigReader::ReadTopic(const Field& item, Config& config) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a topic mapping with a name and subscribers", kTopicKeys);
  if (!m) return;
  notify::TopicSpec topic;
  const size_t index = config.detection.topics.size();
  if (const Field* n = Require(*m, "name", kTopicName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kTopicName)) {
      Define(topic_names_, *name, item.path, *n, "a topic name");
      topic.name = std::move(*name);
    }
  }
  if (const Field* s = m->Find("subscribers")) {
    if (!IsEmptySection(s->value)) {
      if (std::optional<std::vector<Field>> subs = Elements(*s, "a sequence of subscribers")) {
        std::map<std::string, std::string> names;
        for (const Field& sub : *subs) {
          notify::SubscriberSpec spec;
          ReadSubscriber(sub, index, topic.subscribers.size(), names, config, spec);
          topic.subscribers.push_back(std::move(spec));
        }
      }
    }
  }
  config.detection.topics.push_back(std::move(topic));
  topic_where_.push_back(Where(m->mark));
}

void ConfigReader::ReadSubscriber(const Field& item, size_t topic, size_t index,
                                  std::map<std::string, std::string>& names, Config& config,
                                  notify::SubscriberSpec& out) {
  const std::optional<Mapping> m = FieldMapping(
      item, "a subscriber mapping with a name and a type (webhook, exec or file)", kSubscriberKeys);
  if (!m) return;
  if (const Field* n = Require(*m, "name", kSubscriberName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kSubscriberName)) {
      Define(names, *name, item.path, *n, "a subscriber name in the topic");
      out.name = std::move(*name);
    }
  }
  std::optional<size_t> type;
  if (const Field* t =
          Require(*m, "type", "a subscriber type: one of " + JoinKeys(kSubscriberTypes))) {
    type = ReadChoice(*t, kSubscriberTypes, "a subscriber type");
  }
  if (type) {
    out.kind = kSubscriberKinds[*type];
    const std::string kind = "a " + std::string(kSubscriberTypes[*type]) + " subscriber";
    switch (out.kind) {
      case notify::SubscriberKind::kWebhook: {
        constexpr std::string_view kKeys[] = {"url", "secret_env", "ca_file"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        if (const Field* u = Require(*m, "url", "an http:// URL")) {
          if (std::optional<std::string> url = ReadScalar(*u, "an http:// URL")) {
            const std::string problem = WebhookUrlProblem(*url);
            if (problem.empty()) {
              out.url = std::move(*url);
            } else {
              Report(At(*u), u->path, problem, Quote(*url));
            }
          }
        }
        if (const Field* f = m->Find("ca_file")) {
          constexpr std::string_view kCa = "a PEM file of CA certificates (https:// URLs only)";
          if (std::optional<std::string> path = ReadScalar(*f, kCa)) {
            if (path->empty() || out.url.rfind("https://", 0) != 0) {
              Report(At(*f), f->path, std::string(kCa), Quote(*path));
            } else {
              out.ca_file = ResolvePath(*path);
            }
          }
        }
        if (const Field* e = m->Find("secret_env")) {
          if (std::optional<std::string> env = ReadName(*e, kEnvName)) {
            config.webhook_secrets.push_back({topic, index, *env, e->path, Where(At(*e))});
          }
        }
        break;
      }
      case notify::SubscriberKind::kExec: {
        constexpr std::string_view kKeys[] = {"command"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        constexpr std::string_view kCommand =
            "a command as a non-empty sequence: program, then arguments";
        if (const Field* c = Require(*m, "command", kCommand)) {
          if (std::optional<std::vector<Field>> args = Elements(*c, kCommand)) {
            if (args->empty()) Report(At(*c), c->path, std::string(kCommand), "an empty sequence");
            for (const Field& arg : *args) {
              std::optional<std::string> text = ReadScalar(arg, "a program or argument");
              if (!text) continue;
              if (out.command.empty() && text->empty()) {
                Report(At(arg), arg.path, "a program name or path", "''");
              }
              out.command.push_back(std::move(*text));
            }
          }
        }
        break;
      }
      case notify::SubscriberKind::kFile: {
        constexpr std::string_view kKeys[] = {"path"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        constexpr std::string_view kPath =
            "a file path (relative paths start at the config file's directory)";
        if (const Field* p = Require(*m, "path", kPath)) {
          if (std::optional<std::string> path = ReadScalar(*p, kPath)) {
            if (path->empty() || path->back() == '/') {
              Report(At(*p), p->path, std::string(kPath), Quote(*path));
            } else {
              out.path = ResolvePath(*path);
            }
          }
        }
        break;
      }
    }
  }
  const Duration kHour = std::chrono::hours(1);
  if (const Field* t = m->Find("timeout")) {
    if (auto d =
            ReadDuration(*t, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h")) {
      out.timeout = *d;
    }
  }
  if (const Field* d = m->Find("deadline")) {
    if (auto v = ReadDuration(*d, std::chrono::milliseconds(1), std::chrono::hours(24 * 7),
                              "a duration from 1ms to 168h")) {
      out.deadline = *v;
    }
  }
  if (const Field* q = m->Find("queue_limit")) {
    if (auto n =
            ReadInteger(*q, 1, kMaxQueueLimit, "an integer 1-" + std::to_string(kMaxQueueLimit))) {
      out.queue_limit = static_cast<size_t>(*n);
    }
  }
  if (const Field* b = m->Find("backoff")) {
    const std::optional<Mapping> backoff = FieldMapping(
        *b, "a mapping with the optional keys " + JoinKeys(kBackoffKeys), kBackoffKeys);
    if (backoff) {
      bool initial_ok = true;
      if (const Field* i = backoff->Find("initial")) {
        auto d = ReadDuration(*i, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h");
        if (d) out.initial_backoff = *d;
        initial_ok = d.has_value();
      }
      if (const Field* x = backoff->Find("max")) {
        auto d = ReadDuration(*x, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h");
        if (d && initial_ok && *d < out.initial_backoff) {
          Report(At(*x), x->path,
                 "at least the initial backoff (" + FormatDuration(out.initial_backoff) + ")",
                 Quote(x->value.Scalar()));
        } else if (d) {
          out.max_backoff = *d;
        }
      } else if (out.max_backoff < out.initial_backoff) {
        out.max_backoff = out.initial_backoff;
      }
    }
  }
}

void ConfigReader::ReadDetection(const Field& f, health::DetectionSpec& out) {
  detection_where_ = Where(At(f));
  if (f.value.IsNull()) return;
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the optional key " + JoinKeys(kDetectionKeys), kDetectionKeys);
  if (!m) return;
  if (const Field* i = m->Find("alarm_evaluation_interval")) {
    if (auto d = ReadDuration(*i, std::chrono::milliseconds(10), std::chrono::minutes(1),
                              "a duration from 10ms to 1m")) {
      out.alarm_evaluation_interval = *d;
    }
  }
}

void ConfigReader::CheckReferences(Config& config) {
  health::DetectionSpec& d = config.detection;
  for (const Reference& r : topic_refs_) {
    if (topic_names_.count(r.name) > 0) continue;
    Report(r.where, r.field,
           WithHint(Known("a topic defined under topics", topic_names_), r.name, topic_names_),
           Quote(r.name));
  }
  for (const Reference& r : check_refs_) {
    if (check_names_.count(r.name) > 0) continue;
    Report(
        r.where, r.field,
        WithHint(Known("a check defined under health_checks", check_names_), r.name, check_names_),
        Quote(r.name));
  }
  // Children: each names a check, and calculated checks form no cycle.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < d.checks.size(); ++i) index.emplace(d.checks[i].name, i);
  std::vector<std::vector<const Reference*>> edges(d.checks.size());
  for (const Reference& r : child_refs_) {
    auto it = index.find(r.name);
    if (it == index.end()) {
      Report(r.where, r.field,
             WithHint(Known("a check defined under health_checks", check_names_), r.name,
                      check_names_),
             Quote(r.name));
      continue;
    }
    if (r.owner < edges.size()) edges[r.owner].push_back(&r);
  }
  // Depth-first: 1 = on the current path, 2 = done. The first edge back into
  // the path closes a cycle; one report names it.
  std::vector<int> mark(d.checks.size(), 0);
  std::vector<size_t> path;
  bool reported = false;
  std::function<void(size_t)> visit = [&](size_t i) {
    mark[i] = 1;
    path.push_back(i);
    for (const Reference* r : edges[i]) {
      const size_t child = index.at(r->name);
      if (mark[child] == 1 && !reported) {
        std::string cycle;
        const auto from = std::find(path.begin(), path.end(), child);
        for (auto it = from; it != path.end(); ++it) cycle += d.checks[*it].name + " -> ";
        cycle += d.checks[child].name;
        Report(r->where, r->field, "children that form no cycle of calculated checks",
               "the cycle " + cycle);
        reported = true;
      } else if (mark[child] == 0) {
        visit(child);
      }
    }
    path.pop_back();
    mark[i] = 2;
  };
  for (size_t i = 0; i < d.checks.size(); ++i) {
    if (mark[i] == 0) visit(i);
  }
}

void ConfigReader::ValidateDetectionSemantics(const Config& config) {
  const Status st = health::ValidateDetection(config.detection);
  if (st.ok()) return;
  // Lines look like "health_checks[2] (name).timeout: expected ..." or a sentence.
  std::istringstream lines(st.message());
  std::string line;
  while (std::getline(lines, line)) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.find(" error(s) in ") != std::string::npos && line.back() == ':') continue;
    const std::pair<std::string_view, const std::vector<SourceLocation>*> sections[] = {
        {"health_checks[", &check_where_}, {"alarms[", &alarm_where_}, {"topics[", &topic_where_}};
    SourceLocation where = detection_where_.line > 0 ? detection_where_ : checks_where_;
    std::string field;
    std::string message = line;
    for (const auto& [prefix, locations] : sections) {
      if (line.rfind(prefix, 0) != 0) continue;
      const size_t close = line.find(']');
      const std::optional<int64_t> i =
          ParseInteger(std::string_view(line).substr(prefix.size(), close - prefix.size()));
      if (i && *i >= 0 && static_cast<size_t>(*i) < locations->size()) where = (*locations)[*i];
      const size_t colon = line.find(": ");
      if (colon != std::string::npos) {
        field = line.substr(0, colon);
        message = line.substr(colon + 2);
        const size_t name = field.find(" (");
        const size_t name_end = field.find(')', name);
        if (name != std::string::npos && name_end != std::string::npos) {
          field.erase(name, name_end - name + 1);
        }
      }
    }
    constexpr std::string_view kExpected = "expected ";
    if (message.rfind(kExpected, 0) == 0) message.erase(0, kExpected.size());
    Report(where, field, message, "a value the detection validator refuses");
  }
}

bool ConfigReader::KnownTopic(const std::string& name, const Config& config) const {
  if (topic_names_.count(name) > 0) return true;
  const std::string events = config.controller.events_topic.empty()
                                 ? std::string(kBuiltInEventsTopic)
                                 : config.controller.events_topic;
  // The controller creates only its events topic: "controller" unless renamed.
  return name == events;
}

std::string ConfigReader::TopicExpectation(const std::string& name) const {
  return WithHint(Known("a topic defined under topics", topic_names_) + " or the controller's " +
                      std::string(kBuiltInEventsTopic) + " topic",
                  name, topic_names_);
}

}  // namespace pilotlight::config
