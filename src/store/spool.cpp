#include "store/spool.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace llmux::store {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "LXSPOOL1";
constexpr uint64_t kRecordHeader = 8;
constexpr uint32_t kMaxPayload = 64u << 20;  // a length beyond this is garbage, not a row
constexpr uint8_t kVersion = 1;

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void putI64(std::string& out, int64_t v) {
  putU64(out, static_cast<uint64_t>(v));
}
void putStr(std::string& out, const std::string& s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
uint32_t getU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Bounds-checked little-endian reader over one payload.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.size() - pos_ < 1) return false;
    v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool u64(uint64_t& v) {
    if (in_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool str(std::string& s) {
    if (in_.size() - pos_ < 4) return false;
    const uint32_t n = getU32(in_.data() + pos_);
    pos_ += 4;
    if (in_.size() - pos_ < n) return false;
    s.assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool atEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

uint32_t crcOf(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

bool preadAll(int fd, char* buf, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

// "spool-0000000000000042.seg" -> 42
bool parseSegmentName(std::string_view name, uint64_t& seq) {
  constexpr std::string_view kPrefix = "spool-";
  constexpr std::string_view kSuffix = ".seg";
  if (name.size() != kPrefix.size() + 16 + kSuffix.size()) return false;
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return false;
  const char* b = name.data() + kPrefix.size();
  const auto [p, ec] = std::from_chars(b, b + 16, seq);
  return ec == std::errc() && p == b + 16;
}

}  // namespace

void encodeSpendRow(const SpendRow& r, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  for (const std::string* s :
       {&r.requestId, &r.callType, &r.apiKey, &r.keyAlias, &r.teamId, &r.userId, &r.endUser,
        &r.model, &r.modelGroup, &r.deployment, &r.provider, &r.apiBase}) {
    putStr(out, *s);
  }
  for (int64_t v : {r.promptTokens, r.completionTokens, r.cachedTokens, r.cacheWriteTokens,
                    r.reasoningTokens}) {
    putI64(out, v);
  }
  const uint8_t flags = (r.tokensEstimated ? 1 : 0) | (r.cacheHit ? 2 : 0) |
                        (r.completionStartTime.has_value() ? 4 : 0);
  out.push_back(static_cast<char>(flags));
  uint64_t bits = 0;
  static_assert(sizeof(bits) == sizeof(r.spend));
  std::memcpy(&bits, &r.spend, sizeof(bits));
  putU64(out, bits);
  putI64(out, r.status);
  putStr(out, r.errorType);
  putI64(out, r.startTime);
  putI64(out, r.endTime);
  if (r.completionStartTime) putI64(out, *r.completionStartTime);
  putStr(out, r.tags);
  putStr(out, r.metadata);
}

bool decodeSpendRow(std::string_view in, SpendRow& r) {
  Reader rd(in);
  uint8_t version = 0;
  if (!rd.u8(version) || version != kVersion) return false;
  for (std::string* s :
       {&r.requestId, &r.callType, &r.apiKey, &r.keyAlias, &r.teamId, &r.userId, &r.endUser,
        &r.model, &r.modelGroup, &r.deployment, &r.provider, &r.apiBase}) {
    if (!rd.str(*s)) return false;
  }
  for (int64_t* v : {&r.promptTokens, &r.completionTokens, &r.cachedTokens, &r.cacheWriteTokens,
                     &r.reasoningTokens}) {
    if (!rd.i64(*v)) return false;
  }
  uint8_t flags = 0;
  uint64_t bits = 0;
  int64_t status = 0;
  if (!rd.u8(flags) || (flags & ~7u) != 0 || !rd.u64(bits) || !rd.i64(status)) return false;
  if (status < INT32_MIN || status > INT32_MAX) return false;
  r.tokensEstimated = (flags & 1) != 0;
  r.cacheHit = (flags & 2) != 0;
  std::memcpy(&r.spend, &bits, sizeof(bits));
  r.status = static_cast<int>(status);
  if (!rd.str(r.errorType) || !rd.i64(r.startTime) || !rd.i64(r.endTime)) return false;
  r.completionStartTime.reset();
  if ((flags & 4) != 0) {
    int64_t t = 0;
    if (!rd.i64(t)) return false;
    r.completionStartTime = t;
  }
  return rd.str(r.tags) && rd.str(r.metadata) && rd.atEnd();
}

Spool::Spool(SpoolOptions opts) : opts_(std::move(opts)) {}

Spool::~Spool() {
  closeRead();
  if (tailFd_ >= 0) ::close(tailFd_);
}

std::string Spool::segmentPath(uint64_t seq) const {
  char name[40];
  std::snprintf(name, sizeof name, "spool-%016llu.seg", static_cast<unsigned long long>(seq));
  return opts_.dir + "/" + name;
}

bool Spool::open(std::string& error) {
  if (!onDisk()) return true;
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);
  if (ec || !fs::is_directory(opts_.dir, ec)) {
    error = "spool directory " + opts_.dir + " is unusable: " + (ec ? ec.message() : "not a dir");
    return false;
  }
  // Probe writability now rather than at the first outage.
  const std::string probe = opts_.dir + "/.probe";
  const int pfd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (pfd < 0) {
    error = "spool directory " + opts_.dir + " is not writable: " + std::strerror(errno);
    return false;
  }
  ::close(pfd);
  ::unlink(probe.c_str());

  std::vector<Segment> found;
  for (const auto& entry : fs::directory_iterator(opts_.dir, ec)) {
    uint64_t seq = 0;
    if (!parseSegmentName(entry.path().filename().string(), seq)) continue;
    std::error_code sec;
    const auto size = entry.file_size(sec);
    if (!sec) found.push_back({seq, size});
  }
  if (ec) {
    error = "cannot list spool directory " + opts_.dir + ": " + ec.message();
    return false;
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.seq < b.seq; });

  // The head file says how far the oldest segment was consumed before the restart.
  uint64_t headSeq = 0;
  uint64_t headOff = 0;
  if (const int hfd = ::open((opts_.dir + "/head").c_str(), O_RDONLY | O_CLOEXEC); hfd >= 0) {
    char buf[64] = {};
    const ssize_t n = ::read(hfd, buf, sizeof buf - 1);
    ::close(hfd);
    if (n > 0 && std::sscanf(buf, "%llu %llu", reinterpret_cast<unsigned long long*>(&headSeq),
                             reinterpret_cast<unsigned long long*>(&headOff)) != 2) {
      headSeq = headOff = 0;
    }
  }
  for (const Segment& s : found) {
    nextSeq_ = std::max(nextSeq_, s.seq + 1);
    if (s.seq < headSeq) {
      ::unlink(segmentPath(s.seq).c_str());  // consumed before the restart
      continue;
    }
    // A segment without our magic is not ours to replay.
    char magic[kMagic.size()];
    const int fd = ::open(segmentPath(s.seq).c_str(), O_RDONLY | O_CLOEXEC);
    const bool ok = fd >= 0 && s.size >= kMagic.size() && preadAll(fd, magic, sizeof magic, 0) &&
                    std::string_view(magic, sizeof magic) == kMagic;
    if (fd >= 0) ::close(fd);
    if (!ok) {
      ++corrupt_;
      ::unlink(segmentPath(s.seq).c_str());
      continue;
    }
    segments_.push_back(s);
    bytes_ += s.size;
  }
  readSeg_ = 0;
  readOff_ = kMagic.size();
  if (!segments_.empty() && segments_.front().seq == headSeq && headOff >= kMagic.size() &&
      headOff <= segments_.front().size) {
    readOff_ = headOff;
  }
  // Count the rows still to replay (and the damaged records we will skip).
  std::string payload;
  SpendRow row;
  for (size_t i = 0; i < segments_.size(); ++i) {
    uint64_t off = i == 0 ? readOff_ : kMagic.size();
    for (;;) {
      const Step st = readRecord(i, off, payload);
      if (st == Step::End) break;
      if (st == Step::Record && decodeSpendRow(payload, row)) {
        ++rows_;
      } else {
        ++corrupt_;
      }
    }
  }
  closeRead();
  if (rows_ == 0) reset();
  peekSeg_ = readSeg_;
  peekOff_ = readOff_;
  return true;
}

int Spool::readFd(size_t segIdx) {
  const uint64_t seq = segments_[segIdx].seq;
  if (readFd_ >= 0 && readFdSeq_ == seq) return readFd_;
  closeRead();
  readFd_ = ::open(segmentPath(seq).c_str(), O_RDONLY | O_CLOEXEC);
  readFdSeq_ = seq;
  return readFd_;
}

void Spool::closeRead() {
  if (readFd_ >= 0) ::close(readFd_);
  readFd_ = -1;
}

Spool::Step Spool::readRecord(size_t segIdx, uint64_t& off, std::string& payload) {
  const uint64_t size = segments_[segIdx].size;
  if (off + kRecordHeader > size) return Step::End;
  const int fd = readFd(segIdx);
  char hdr[kRecordHeader];
  if (fd < 0 || !preadAll(fd, hdr, sizeof hdr, off)) return Step::End;
  const uint32_t len = getU32(hdr);
  const uint32_t crc = getU32(hdr + 4);
  // A length running past the end is a torn last record (crash mid-append): the segment ends.
  if (len > kMaxPayload || off + kRecordHeader + len > size) return Step::End;
  payload.resize(len);
  if (!preadAll(fd, payload.data(), len, off + kRecordHeader)) return Step::End;
  off += kRecordHeader + len;
  return crcOf(payload) == crc ? Step::Record : Step::BadRecord;
}

void Spool::peek(size_t max, std::vector<SpendRow>& out) {
  out.clear();
  peekCount_ = 0;
  if (!onDisk()) {
    size_t i = 0;
    for (; i < memory_.size() && out.size() < max; ++i) {
      SpendRow row;
      if (decodeSpendRow(memory_[i], row)) out.push_back(std::move(row));
    }
    peekCount_ = i;
    return;
  }
  size_t seg = readSeg_;
  uint64_t off = readOff_;
  std::string payload;
  while (out.size() < max && seg < segments_.size()) {
    const Step st = readRecord(seg, off, payload);
    if (st == Step::End) {
      if (seg + 1 >= segments_.size()) break;  // stay here: appends may extend this segment
      ++seg;
      off = kMagic.size();
      continue;
    }
    SpendRow row;
    if (st == Step::Record && decodeSpendRow(payload, row)) out.push_back(std::move(row));
  }
  peekSeg_ = seg;
  peekOff_ = off;
  peekCount_ = out.size();
}

void Spool::consume() {
  if (!onDisk()) {
    for (size_t i = 0; i < peekCount_ && !memory_.empty(); ++i) {
      bytes_ -= kRecordHeader + memory_.front().size();
      memory_.pop_front();
    }
    rows_ = memory_.size();
    peekCount_ = 0;
    return;
  }
  rows_ -= std::min<uint64_t>(rows_, peekCount_);
  peekCount_ = 0;
  readSeg_ = peekSeg_;
  readOff_ = peekOff_;
  if (rows_ == 0) {
    reset();
    return;
  }
  // Segments before the read position are fully written to the database.
  while (readSeg_ > 0) {
    if (readFd_ >= 0 && readFdSeq_ == segments_.front().seq) closeRead();
    ::unlink(segmentPath(segments_.front().seq).c_str());
    bytes_ -= segments_.front().size;
    segments_.pop_front();
    --readSeg_;
  }
  peekSeg_ = readSeg_;
  writeHead();
}

uint64_t Spool::clear() {
  const uint64_t n = rows_;
  memory_.clear();
  reset();
  return n;
}

void Spool::writeHead() {
  const std::string tmp = opts_.dir + "/head.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;  // only costs a longer replay after a crash
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%llu %llu\n",
                              static_cast<unsigned long long>(segments_[readSeg_].seq),
                              static_cast<unsigned long long>(readOff_));
  const bool ok = writeAll(fd, std::string_view(buf, static_cast<size_t>(n)));
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), (opts_.dir + "/head").c_str());
}

void Spool::reset() {
  closeRead();
  if (tailFd_ >= 0) ::close(tailFd_);
  tailFd_ = -1;
  for (const Segment& s : segments_) ::unlink(segmentPath(s.seq).c_str());
  segments_.clear();
  if (onDisk()) ::unlink((opts_.dir + "/head").c_str());
  readSeg_ = peekSeg_ = 0;
  readOff_ = peekOff_ = kMagic.size();
  rows_ = 0;
  bytes_ = 0;
}

bool Spool::writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Spool::startSegment(std::string& error) {
  if (tailFd_ >= 0) {
    if (opts_.fsync) ::fsync(tailFd_);
    ::close(tailFd_);
    tailFd_ = -1;
  }
  const uint64_t seq = nextSeq_++;
  const std::string path = segmentPath(seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || !writeAll(fd, kMagic)) {
    error = "spool: cannot create " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
    return false;
  }
  if (opts_.fsync) {
    // Make the new file's directory entry durable too.
    if (const int dfd = ::open(opts_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  if (segments_.empty()) {
    readSeg_ = peekSeg_ = 0;
    readOff_ = peekOff_ = kMagic.size();
  }
  segments_.push_back({seq, kMagic.size()});
  bytes_ += kMagic.size();
  tailFd_ = fd;
  return true;
}

size_t Spool::append(std::span<const SpendRow> rows, std::string& error) {
  std::vector<const SpendRow*> ptrs;
  pointTo(rows, ptrs);
  return append(SpendBatch(ptrs), error);
}

size_t Spool::append(SpendBatch rows, std::string& error) {
  std::string payload;
  if (!onDisk()) {
    size_t n = 0;
    for (const SpendRow* r : rows) {
      payload.clear();
      encodeSpendRow(*r, payload);
      if (bytes_ + kRecordHeader + payload.size() > opts_.maxBytes) break;
      bytes_ += kRecordHeader + payload.size();
      memory_.push_back(std::move(payload));
      ++n;
    }
    rows_ = memory_.size();
    return n;
  }
  std::string buf;
  size_t stored = 0;    // rows durable in files
  size_t buffered = 0;  // rows in buf
  // Writes buf to the tail; on a short write the file is cut back to its last whole record and
  // closed so the next append starts a fresh segment.
  auto flush = [&]() -> bool {
    if (buf.empty()) return true;
    Segment& tail = segments_.back();
    if (!writeAll(tailFd_, buf)) {
      error = std::string("spool: write failed: ") + std::strerror(errno);
      if (::ftruncate(tailFd_, static_cast<off_t>(tail.size)) != 0) {
        // The torn bytes stay; readers stop at them, and we never append after them.
      }
      ::close(tailFd_);
      tailFd_ = -1;
      return false;
    }
    tail.size += buf.size();
    bytes_ += buf.size();
    rows_ += buffered;
    stored += buffered;
    buffered = 0;
    buf.clear();
    return true;
  };
  for (const SpendRow* r : rows) {
    payload.clear();
    encodeSpendRow(*r, payload);
    if (payload.size() > kMaxPayload) break;
    const uint64_t rec = kRecordHeader + payload.size();
    const uint64_t tailUsed = tailFd_ >= 0 ? segments_.back().size + buf.size() : 0;
    const bool roll =
        tailFd_ < 0 || (tailUsed > kMagic.size() && tailUsed + rec > opts_.segmentBytes);
    if (bytes_ + buf.size() + rec + (roll ? kMagic.size() : 0) > opts_.maxBytes) break;
    if (roll && (!flush() || !startSegment(error))) return stored;
    putU32(buf, static_cast<uint32_t>(payload.size()));
    putU32(buf, crcOf(payload));
    buf.append(payload);
    ++buffered;
  }
  if (!flush()) return stored;
  if (opts_.fsync && tailFd_ >= 0 && ::fsync(tailFd_) != 0) {
    error = std::string("spool: fsync failed: ") + std::strerror(errno);
  }
  return stored;
}

}  // namespace llmux::store
