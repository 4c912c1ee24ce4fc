// Route matching, methods, and the JSON / query / time helpers under the handlers.
#include <cmath>
#include <limits>

#include "management/json_io.hpp"
#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

TEST(ManagementRoutes, Handles) {
  for (const char* p : {"/key/generate",
                        "/key/update",
                        "/key/delete",
                        "/key/info",
                        "/key/list",
                        "/key/regenerate",
                        "/key/sk-abc/regenerate",
                        "/key/0123abcd/regenerate",
                        "/key/block",
                        "/key/unblock",
                        "/team/new",
                        "/team/update",
                        "/team/delete",
                        "/team/info",
                        "/team/list",
                        "/team/member_add",
                        "/team/member_delete",
                        "/team/block",
                        "/team/unblock",
                        "/user/new",
                        "/user/update",
                        "/user/delete",
                        "/user/info",
                        "/user/list",
                        "/customer/new",
                        "/customer/update",
                        "/customer/delete",
                        "/customer/info",
                        "/customer/list",
                        "/customer/block",
                        "/customer/unblock",
                        "/end_user/new",
                        "/end_user/info",
                        "/end_user/block",
                        "/budget/new",
                        "/budget/update",
                        "/budget/info",
                        "/budget/delete",
                        "/budget/list",
                        "/spend/logs",
                        "/global/spend/report"}) {
    EXPECT_TRUE(handles(p)) << p;
  }
  for (const char* p : {"/chat/completions", "/key", "/key/", "/key//regenerate",
                        "/key/a/b/regenerate", "/key/regenerate/", "/key/info/x", "/team",
                        "/end_user/", "/model/info", "/global/spend/reset", "", "/KEY/generate"}) {
    EXPECT_FALSE(handles(p)) << p;
  }
}

using Router = MgmtTest;

TEST_P(Router, UnknownRouteAndWrongMethod) {
  auto a = post(master(), "/key/nothing", "{}");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.str({"error", "code"}), "404");
  a = post(master(), "/key/info", "{}");
  EXPECT_EQ(a.status, 405);
  EXPECT_EQ(a.str({"error", "code"}), "method_not_allowed");
  a = get(master(), "/key/generate");
  EXPECT_EQ(a.status, 405);
  a = call(master(), "DELETE", "/team/delete", "", "{}");
  EXPECT_EQ(a.status, 405);
  // Bytes that are not UTF-8 in the path still give a JSON body (checked by call()).
  a = post(master(), "/key/\xff\xfe", "{}");
  EXPECT_EQ(a.status, 404);
}

TEST_P(Router, ErrorEnvelopeIsLiteLLMs) {
  const auto a = post(master(), "/key/generate", R"({"max_budget":-1})");
  ASSERT_EQ(a.status, 400);
  ASSERT_TRUE(a.body.is_object());
  const auto& err = a.body.as_object().at("error").as_object();
  EXPECT_EQ(err.size(), 4u);
  EXPECT_TRUE(err.contains("message"));
  EXPECT_EQ(err.at("type").as_string(), "bad_request_error");
  EXPECT_EQ(err.at("param").as_string(), "max_budget");
  EXPECT_EQ(err.at("code").as_string(), "400");
}

TEST_P(Router, InvalidUtf8InQueryIsRepairedNotEchoedRaw) {
  const auto a = get(master(), "/key/info", "key=%FF%FEsk");
  EXPECT_EQ(a.status, 404);  // and the body parsed as JSON (call() checks)
}

LLMUX_MGMT_ON_BACKENDS(Router);

TEST(ManagementJson, WritesShortestFloatsAndRepairsText) {
  json::object o;
  o["a"] = 1.5;
  o["b"] = 1.0;
  o["c"] = 0.1;
  o["d"] = std::numeric_limits<double>::quiet_NaN();
  o["e"] = 1e21;
  o["f"] = int64_t{-3};
  o["g"] = "q\"\n\x01";
  o["h"] = "bad\xff";
  EXPECT_EQ(writeJson(o),
            R"({"a":1.5,"b":1.0,"c":0.1,"d":null,"e":1e+21,"f":-3,"g":"q\"\n\u0001","h":"bad)"
            "\xEF\xBF\xBD\"}");
  EXPECT_EQ(sanitizeUtf8("ok\xC3\xA9\xE2\x82"), "ok\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "surrogate";
  EXPECT_EQ(parseStored("not json", json::object{}).as_object().size(), 0u);
}

TEST(ManagementJson, Days) {
  EXPECT_EQ(parseDay("1970-01-01"), 0);
  EXPECT_EQ(parseDay("2025-01-15"), int64_t{20103} * 86'400'000);
  EXPECT_TRUE(parseDay("2024-02-29"));
  EXPECT_FALSE(parseDay("2025-02-29"));
  EXPECT_FALSE(parseDay("2100-02-29"));
  EXPECT_TRUE(parseDay("2000-02-29"));
  for (const char* bad : {"2025-1-01", "2025-00-10", "2025-01-32", "20250115", "2025-01-1x", ""}) {
    EXPECT_FALSE(parseDay(bad)) << bad;
  }
  EXPECT_EQ(isoTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(isoTime(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(isoTime(1'736'937'000'123), "2025-01-15T10:30:00.123Z");
  EXPECT_EQ(dayOf(-1), "1969-12-31");
}

TEST(ManagementJson, QueryDecoding) {
  const Query q("a=b%20c&d=e+f&x=%ZZ&empty=&k&a=second&%75ser=u");
  EXPECT_EQ(q.get("a"), "b c") << "first one wins";
  EXPECT_EQ(q.get("d"), "e f");
  EXPECT_EQ(q.get("x"), "%ZZ");
  EXPECT_FALSE(q.get("empty"));
  EXPECT_FALSE(q.get("k"));
  EXPECT_FALSE(q.get("missing"));
  EXPECT_EQ(q.get("user"), "u");
  EXPECT_EQ(Query("v=%00x").get("v"), "x");
}

TEST(ManagementJson, ReaderTypes) {
  json::error_code ec;
  const json::value v = json::parse(
      R"({"i":5.0,"f":5.5,"big":18446744073709551615,"inf":1e400,"s":"x","n":null,"l":["a"],
          "bad":["a",2],"o":{"k":1},"b":true})",
      ec);
  ASSERT_FALSE(ec);
  {
    Reader r(v.as_object());
    EXPECT_EQ(r.integer("i").value, 5);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.integer("n").cleared());
    EXPECT_FALSE(r.integer("absent").present);
    EXPECT_EQ(r.strings("l").value, std::vector<std::string>{"a"});
    EXPECT_TRUE(r.boolean("b").value.value());
    EXPECT_EQ(r.object("o").value->size(), 1u);
    EXPECT_TRUE(r.ok());
  }
  for (const char* name : {"f", "big"}) {
    Reader r(v.as_object());
    (void)r.integer(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error()->param, name);
  }
  {
    Reader r(v.as_object());
    (void)r.number("inf");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error()->message.find("finite"), std::string::npos);
  }
  {
    Reader r(v.as_object());
    (void)r.strings("bad");
    (void)r.string("l");  // a second error does not replace the first
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error()->param, "bad");
  }
  const std::string id = newUuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(newUuid(), id);
}

}  // namespace
}  // namespace llmux::management::testing
