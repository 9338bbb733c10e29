// Thin wrappers over OpenSSL for the primitives the adapters need. No hand-written crypto.
// Thread-safety: all functions are reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reach::crypto {

std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HmacSha1(std::string_view key, std::string_view data);    // raw 20 bytes
std::string Sha256(std::string_view data);                            // raw 32 bytes
std::string Md5(std::string_view data);                               // raw 16 bytes
std::string Base64Encode(std::string_view data);                      // standard, padded
std::optional<std::string> Base64Decode(std::string_view data);       // standard, padded
std::string Base64UrlEncode(std::string_view data);                   // url alphabet, no padding
std::string HexEncode(std::string_view data);                         // lowercase
std::string RandomBytes(size_t n);                                    // CSPRNG (RAND_bytes)
// Constant-time equality for signatures and tokens.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace reach::crypto
