#pragma once
// RESP encoding of a command (an array of bulk strings), the bytes hiredis' redisFormatCommandArgv
// produces. RedisConnection formats commands itself and hands hiredis the finished bytes: hiredis
// formats each argument's header through its own printf-like sdscatfmt, which cost more than
// anything else in sending an admit batch of a few hundred arguments.
#include <span>
#include <string>
#include <string_view>

namespace llmux::kv {

// Appends "*<n>\r\n" and "$<len>\r\n<arg>\r\n" per argument to `out`.
void appendResp(std::string& out, std::span<const std::string_view> argv);

}  // namespace llmux::kv
