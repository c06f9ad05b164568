#include "alarm/metrics.h"

#include <algorithm>
#include <tuple>

namespace pilotlight::alarm {

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

MetricKey::MetricKey(std::string n, std::vector<std::pair<std::string, std::string>> l)
    : name(std::move(n)), labels(std::move(l)) {
  std::sort(labels.begin(), labels.end());
}

std::string MetricKey::ToString() const {
  std::string out = name;
  if (labels.empty()) return out;
  out += "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
  }
  return out + "}";
}

bool MetricKey::operator<(const MetricKey& o) const {
  return std::tie(name, labels) < std::tie(o.name, o.labels);
}
bool MetricKey::operator==(const MetricKey& o) const {
  return name == o.name && labels == o.labels;
}

MetricSeries::MetricSeries(size_t capacity) : buf_(std::max<size_t>(capacity, 1)) {}

void MetricSeries::Add(Sample s) {
  buf_[next_] = s;
  next_ = (next_ + 1) % buf_.size();
  size_ = std::min(size_ + 1, buf_.size());
}

std::vector<Sample> MetricSeries::Samples() const {
  std::vector<Sample> out;
  out.reserve(size_);
  const size_t start = (next_ + buf_.size() - size_) % buf_.size();
  for (size_t i = 0; i < size_; ++i) out.push_back(buf_[(start + i) % buf_.size()]);
  return out;
}

std::vector<Sample> MetricSeries::Between(WallTime from, WallTime to) const {
  std::vector<Sample> out;
  const size_t start = (next_ + buf_.size() - size_) % buf_.size();
  for (size_t i = 0; i < size_; ++i) {
    const Sample& s = buf_[(start + i) % buf_.size()];
    if (s.at >= from && s.at < to) out.push_back(s);
  }
  return out;
}

const Sample& MetricSeries::Last() const { return buf_[(next_ + buf_.size() - 1) % buf_.size()]; }

MetricRegistry::MetricRegistry(size_t capacity_per_series) : capacity_(capacity_per_series) {}

void MetricRegistry::Describe(const std::string& name, MetricInfo info) {
  std::lock_guard<std::mutex> lock(mu_);
  info_[name] = std::move(info);
}

void MetricRegistry::Record(const MetricKey& key, double value, WallTime at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(key);
  if (it == series_.end()) it = series_.emplace(key, MetricSeries(capacity_)).first;
  it->second.Add({at, value});
}

std::vector<Sample> MetricRegistry::Between(const MetricKey& key, WallTime from,
                                            WallTime to) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(key);
  if (it == series_.end()) return {};
  return it->second.Between(from, to);
}

std::map<MetricKey, Sample> MetricRegistry::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<MetricKey, Sample> out;
  for (const auto& [key, series] : series_) {
    if (series.size() > 0) out.emplace(key, series.Last());
  }
  return out;
}

std::map<std::string, MetricInfo> MetricRegistry::Descriptions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return info_;
}

size_t MetricRegistry::SeriesCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

}  // namespace pilotlight::alarm
