// Metric series: what components report (probe latency, check status,
// replication lag, request error rates...), kept in bounded ring buffers.
//
// A metric is a name plus labels (Prometheus style); each distinct key has its
// own series of timestamped samples. A series holds at most `capacity` samples
// and forgets the oldest first, so memory is bounded however long pilotlight
// runs. MetricRegistry is thread-safe (one mutex): probes record from the event
// loop while the CLI or the API reads snapshots. Pure data otherwise: the caller
// supplies the time of every sample.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace pilotlight::alarm {

struct MetricKey {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by label name

  MetricKey() = default;
  MetricKey(std::string n, std::vector<std::pair<std::string, std::string>> l = {});
  // name{a="x",b="y"} (label values escaped as in the Prometheus text format).
  std::string ToString() const;
  bool operator<(const MetricKey& o) const;
  bool operator==(const MetricKey& o) const;
};

// Escapes a label value for the Prometheus text format (\\, \", \n).
std::string EscapeLabelValue(const std::string& v);

struct Sample {
  WallTime at;
  double value = 0;
};

// A fixed-capacity ring of samples in the order they were recorded.
class MetricSeries {
 public:
  explicit MetricSeries(size_t capacity);
  void Add(Sample s);
  size_t size() const { return size_; }
  size_t capacity() const { return buf_.size(); }
  // Oldest first.
  std::vector<Sample> Samples() const;
  // Samples with at in [from, to), oldest first.
  std::vector<Sample> Between(WallTime from, WallTime to) const;
  // REQUIRES: size() > 0.
  const Sample& Last() const;

 private:
  std::vector<Sample> buf_;
  size_t next_ = 0;
  size_t size_ = 0;
};

struct MetricInfo {
  std::string help;
  std::string type = "gauge";  // Prometheus type: gauge | counter
};

class MetricRegistry {
 public:
  explicit MetricRegistry(size_t capacity_per_series = 4096);

  // Describes a metric name for the exposition (optional).
  void Describe(const std::string& name, MetricInfo info);
  void Record(const MetricKey& key, double value, WallTime at);

  // Copies of the samples of `key` in [from, to); empty when unknown.
  std::vector<Sample> Between(const MetricKey& key, WallTime from, WallTime to) const;
  // The last sample of every series, by key.
  std::map<MetricKey, Sample> Latest() const;
  std::map<std::string, MetricInfo> Descriptions() const;
  size_t SeriesCount() const;

 private:
  mutable std::mutex mu_;
  size_t capacity_;
  std::map<MetricKey, MetricSeries> series_;
  std::map<std::string, MetricInfo> info_;
};

}  // namespace pilotlight::alarm
