// Fuzzes the management API: a sequence of requests through management::handle() on a fresh
// in-memory SQLite database, so later requests see what earlier ones created. Every answer must be
// a status in 200..599 with a valid JSON body (an error envelope for errors), never a crash.
//
// Input: requests separated by a line "===". Each starts with "METHOD /path?query" on its first
// line, the rest is the body. A leading '@' on that line makes the caller the internal user
// "fuzz-user" instead of the master key.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "management/management.hpp"
#include "store/db.hpp"

namespace {

namespace json = boost::json;
using llmux::management::Caller;

void checkAnswer(const llmux::management::Response& r) {
  LLMUX_FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  json::error_code ec;
  const json::value v = json::parse(r.body, ec);
  LLMUX_FUZZ_CHECK(!ec);
  if (r.status >= 400) {
    const auto* o = v.if_object();
    LLMUX_FUZZ_CHECK(o != nullptr);
    const auto* e = o->if_contains("error");
    LLMUX_FUZZ_CHECK(e != nullptr && e->is_object());
    LLMUX_FUZZ_CHECK(e->get_object().contains("message"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT: libFuzzer ABI
  if (size > 64 * 1024) return 0;
  std::string error;
  auto db = llmux::store::open(":memory:", error);
  if (!db || !llmux::store::migrate(*db, error)) __builtin_trap();
  const llmux::governance::AccessGroups groups{{"team-models", {"gpt-4o", "openai/*"}}};
  const llmux::management::Context ctx{*db, 1'736'937'000'000, groups,
                                       [](std::string_view m) { return m == "gpt-4o"; }};

  Caller master;
  master.role = llmux::governance::Role::ProxyAdmin;
  master.masterKey = true;
  Caller user;
  user.role = llmux::governance::Role::InternalUser;
  user.userId = "fuzz-user";
  user.keyHash = "0000000000000000000000000000000000000000000000000000000000000000";
  (void)llmux::management::handle(
      ctx, master, {"POST", "/user/new", "", R"({"user_id":"fuzz-user","auto_create_key":false})"});

  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int n = 0; !input.empty() && n < 16; ++n) {
    const size_t sep = input.find("\n===\n");
    std::string_view one = input.substr(0, sep);
    input = sep == std::string_view::npos ? std::string_view{} : input.substr(sep + 5);

    const size_t eol = one.find('\n');
    std::string_view line = one.substr(0, eol);
    const std::string_view body =
        eol == std::string_view::npos ? std::string_view{} : one.substr(eol + 1);
    const Caller* caller = &master;
    if (!line.empty() && line.front() == '@') {
      caller = &user;
      line.remove_prefix(1);
    }
    const size_t sp = line.find(' ');
    const std::string_view method = line.substr(0, sp);
    std::string_view target =
        sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    std::string_view query;
    if (const size_t q = target.find('?'); q != std::string_view::npos) {
      query = target.substr(q + 1);
      target = target.substr(0, q);
    }
    const bool handled = llmux::management::handles(target);
    const auto r = llmux::management::handle(ctx, *caller, {method, target, query, body});
    checkAnswer(r);
    if (!handled) LLMUX_FUZZ_CHECK(r.status == 404);
  }
  return 0;
}
