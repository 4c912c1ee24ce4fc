#include "providers/common/aws_eventstream.hpp"

#include <zlib.h>

namespace llmux::providers::aws {
namespace {

uint32_t crc32Of(std::string_view bytes) {
  // crc32_z takes a size_t length, so frames over 4 GiB would still be covered in one call.
  return static_cast<uint32_t>(
      crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

uint64_t readBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

uint32_t readU32(std::string_view bytes, size_t at) {
  return static_cast<uint32_t>(readBigEndian(bytes.substr(at, 4)));
}

// Sign-extends the big-endian two's-complement integer in `bytes` (1, 2, 4 or 8 bytes).
int64_t readSigned(std::string_view bytes) {
  const uint64_t v = readBigEndian(bytes);
  const unsigned bits = static_cast<unsigned>(bytes.size()) * 8;
  if (bits == 64) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

// Parses the header block; false on any out-of-bounds length or unknown type.
bool parseHeaders(std::string_view block, std::vector<Header>& out) {
  out.clear();
  while (!block.empty()) {
    Header h;
    const size_t nameLen = static_cast<unsigned char>(block[0]);
    // Name plus the type byte must fit.
    if (block.size() < 1 + nameLen + 1) return false;
    h.name = block.substr(1, nameLen);
    const auto type = static_cast<unsigned char>(block[1 + nameLen]);
    block.remove_prefix(1 + nameLen + 1);
    size_t valueLen = 0;  // bytes after the type byte
    switch (type) {
      case 0:
      case 1:
        h.integer = type == 0 ? 1 : 0;
        break;
      case 2:
        valueLen = 1;
        break;
      case 3:
        valueLen = 2;
        break;
      case 4:
        valueLen = 4;
        break;
      case 5:
      case 8:
        valueLen = 8;
        break;
      case 6:
      case 7: {
        if (block.size() < 2) return false;
        const size_t len = readBigEndian(block.substr(0, 2));
        if (block.size() < 2 + len) return false;
        h.raw = block.substr(2, len);
        block.remove_prefix(2 + len);
        break;
      }
      case 9:
        valueLen = 16;
        break;
      default:
        return false;
    }
    h.type = static_cast<HeaderType>(type);
    if (valueLen > 0) {
      if (block.size() < valueLen) return false;
      h.raw = block.substr(0, valueLen);
      if (type != 9) h.integer = readSigned(h.raw);
      block.remove_prefix(valueLen);
    }
    out.push_back(h);
  }
  return true;
}

}  // namespace

std::string_view EventStreamMessage::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name == name && (h.type == HeaderType::String || h.type == HeaderType::ByteArray)) {
      return h.raw;
    }
  }
  return {};
}

Status EventStreamDecoder::fail(Status s) {
  status_ = s;
  // A failed decoder never resumes, so its buffer is dead weight.
  buf_.clear();
  buf_.shrink_to_fit();
  return s;
}

size_t EventStreamDecoder::checkPrelude(std::string_view prelude) {
  // The CRC comes first: with a corrupt prelude the lengths are not worth judging.
  if (crc32Of(prelude.substr(0, 8)) != readU32(prelude, 8)) {
    fail(Status::BadPreludeCrc);
    return 0;
  }
  const uint64_t total = readU32(prelude, 0);
  const uint64_t headersLen = readU32(prelude, 4);
  if (total < kMinMessageBytes) {
    fail(Status::BadLength);
    return 0;
  }
  if (total > maxMessageBytes_) {
    fail(Status::TooLarge);
    return 0;
  }
  if (headersLen > total - kMinMessageBytes) {
    fail(Status::BadLength);
    return 0;
  }
  return static_cast<size_t>(total);
}

bool EventStreamDecoder::decodeFrame(std::string_view frame) {
  const size_t total = frame.size();
  if (crc32Of(frame.substr(0, total - 4)) != readU32(frame, total - 4)) {
    fail(Status::BadMessageCrc);
    return false;
  }
  const size_t headersLen = readU32(frame, 4);
  if (!parseHeaders(frame.substr(kPreludeBytes, headersLen), msg_.headers)) {
    fail(Status::BadHeader);
    return false;
  }
  msg_.payload = frame.substr(kPreludeBytes + headersLen, total - kMinMessageBytes - headersLen);
  return true;
}

Status EventStreamDecoder::finish() {
  if (status_ != Status::Ok) return status_;
  if (!buf_.empty()) return fail(Status::Truncated);
  return Status::Ok;
}

}  // namespace llmux::providers::aws
