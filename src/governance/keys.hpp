#pragma once
// Virtual key material: generation, hashing, display. Raw keys exist only in the response that
// creates them and in the client's requests; everything stored or logged is the hash.
#include <string>
#include <string_view>

namespace llmux::governance {

// "sk-" + 22 characters of URL-safe base64 from 16 random bytes (OpenSSL RAND_bytes), like
// LiteLLM's keys. Empty string if the random source fails.
std::string generateKey();
// Lower-case hex SHA-256 (64 characters) of the whole key, "sk-" included (LiteLLM's token
// column).
std::string hashKey(std::string_view rawKey);
// True when a management route was given a hash rather than a raw key (64 hex characters, or
// anything not starting with "sk-" that contains no "sk"). False for "".
bool looksLikeHash(std::string_view key);
// "sk-...abcd": the last four characters, for key_name and messages ("sk-..." alone for keys
// shorter than 8 characters, which the suffix would nearly reveal). Bytes outside printable ASCII
// are shown as '?' here and in maskKey.
std::string displayKey(std::string_view rawKey);
// "sk-1****abcd" style masking (first and last four) for error messages about a key that may be
// raw; "****" for keys shorter than 12 characters.
std::string maskKey(std::string_view key);

}  // namespace llmux::governance
