#pragma once
// Header fields of one message, copied into a single reusable arena: no allocation per field, and
// capacity is kept across the requests of a connection.
#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::http {

class HeaderList {
 public:
  void clear() {
    arena_.clear();
    fields_.clear();
  }
  void add(std::string_view name, std::string_view value) {
    Field f{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(name.size()), 0,
            static_cast<uint32_t>(value.size())};
    arena_.append(name);
    f.valueOff = static_cast<uint32_t>(arena_.size());
    arena_.append(value);
    fields_.push_back(f);
  }
  // First field named `name` (ASCII case-insensitive), or "" when absent.
  [[nodiscard]] std::string_view get(std::string_view name) const {
    for (const auto& f : fields_) {
      if (f.nameLen == name.size() && boost::beast::iequals(nameOf(f), name)) return valueOf(f);
    }
    return {};
  }
  [[nodiscard]] size_t size() const { return fields_.size(); }
  [[nodiscard]] std::string_view name(size_t i) const { return nameOf(fields_[i]); }
  [[nodiscard]] std::string_view value(size_t i) const { return valueOf(fields_[i]); }
  // Releases memory after an unusually large message.
  void shrink(size_t keep) {
    if (arena_.capacity() > keep) std::string().swap(arena_);
  }

 private:
  struct Field {
    uint32_t nameOff, nameLen, valueOff, valueLen;
  };
  [[nodiscard]] std::string_view nameOf(const Field& f) const {
    return {arena_.data() + f.nameOff, f.nameLen};
  }
  [[nodiscard]] std::string_view valueOf(const Field& f) const {
    return {arena_.data() + f.valueOff, f.valueLen};
  }
  std::string arena_;
  std::vector<Field> fields_;
};

}  // namespace llmux::http
