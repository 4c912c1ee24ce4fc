#pragma once
// A bounded on-disk FIFO of spend rows that could not be written to the database (outage) or that
// must wait behind older spooled rows. It survives a restart: the next start replays what is there.
// Used by the spend writer thread only (not thread-safe).
//
// On-disk format. The spool is a directory holding segment files `spool-<seq>.seg` (seq: 16
// decimal digits, increasing) and an optional `head` file. A segment starts with the 8-byte magic
// "LXSPOOL1" followed by records:
//   u32 payloadLength (little-endian) | u32 crc32(payload) (zlib, little-endian) | payload
// The payload is one SpendRow in a compact binary form (all integers little-endian):
//   u8 version (=1)
//   str requestId, callType, apiKey, keyAlias, teamId, userId, endUser, model, modelGroup,
//       deployment, provider, apiBase                       (str = u32 length + bytes)
//   i64 promptTokens, completionTokens, cachedTokens, cacheWriteTokens, reasoningTokens
//   u8 flags (bit0 tokensEstimated, bit1 cacheHit, bit2 completionStartTime present)
//   f64 spend (IEEE-754 bits as u64), i64 status, str errorType, i64 startTime, i64 endTime,
//   [i64 completionStartTime when bit2], str tags, str metadata
// Appends go to the newest segment (a new one is started at each open and when a segment would
// pass segmentBytes); fsync runs once per appended batch (option). Reading stops a segment at a
// record whose length runs past the end of the file (a torn last record after a crash: ignored)
// and skips a record whose checksum or payload is bad (counted in corrupt()). The `head` file
// ("<seq> <offset>\n", replaced by rename) remembers how far the oldest segment was consumed;
// losing it only replays rows again, which the database ignores (request ids are unique). Segments
// are deleted once fully consumed, and every file once the spool is empty.
//
// With an empty `dir` the spool lives in memory (same bound, lost on exit).
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace llmux::store {

struct SpoolOptions {
  std::string dir;                      // "" = in memory only
  uint64_t maxBytes = 256ull << 20;     // cap on the files' total size
  uint64_t segmentBytes = 16ull << 20;  // a segment is closed once it would pass this
  bool fsync = true;                    // fsync after each appended batch
};

// The payload codec (exposed for tests and fuzzing). decode rejects truncated input, trailing
// bytes, an unknown version and lengths past the end; it never throws.
void encodeSpendRow(const SpendRow& row, std::string& out);
bool decodeSpendRow(std::string_view in, SpendRow& out);

class Spool {
 public:
  explicit Spool(SpoolOptions opts);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the directory if needed and indexes the segments already there. False with `error`
  // when the directory cannot be used.
  bool open(std::string& error);

  // Appends rows in order; returns how many were stored (a prefix). Fewer than rows.size() when
  // the size cap is reached or the disk fails (`error` set then).
  size_t append(SpendBatch rows, std::string& error);
  size_t append(std::span<const SpendRow> rows, std::string& error);

  // Reads up to `max` of the oldest rows into `out` (cleared first) without consuming them.
  void peek(size_t max, std::vector<SpendRow>& out);
  // Consumes the rows the last peek() returned (call only after they were written).
  void consume();
  // Deletes everything (a spool whose rows cannot be read back); returns the rows it held.
  uint64_t clear();

  [[nodiscard]] bool empty() const { return rows_ == 0; }
  [[nodiscard]] uint64_t rows() const { return rows_; }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }
  [[nodiscard]] uint64_t corrupt() const { return corrupt_; }
  [[nodiscard]] bool onDisk() const { return !opts_.dir.empty(); }

 private:
  struct Segment {
    uint64_t seq = 0;
    uint64_t size = 0;  // bytes in the file (what we wrote or found)
  };
  enum class Step { Record, BadRecord, End };

  std::string segmentPath(uint64_t seq) const;
  Step readRecord(size_t segIdx, uint64_t& off, std::string& payload);
  int readFd(size_t segIdx);
  bool startSegment(std::string& error);
  bool writeAll(int fd, std::string_view data);
  void writeHead();
  void reset();
  void closeRead();

  SpoolOptions opts_;
  std::deque<Segment> segments_;  // oldest first; the last one takes appends when tailFd_ >= 0
  int tailFd_ = -1;
  int readFd_ = -1;
  uint64_t readFdSeq_ = 0;
  size_t readSeg_ = 0;  // consume position: segment index and offset
  uint64_t readOff_ = 0;
  size_t peekSeg_ = 0;  // position after the last peek
  uint64_t peekOff_ = 0;
  size_t peekCount_ = 0;
  uint64_t nextSeq_ = 1;
  uint64_t rows_ = 0;
  uint64_t bytes_ = 0;
  uint64_t corrupt_ = 0;
  std::deque<std::string> memory_;  // in-memory mode: encoded payloads
};

}  // namespace llmux::store
