#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace reach::crypto {
namespace {

// OpenSSL 3's one-shot HMAC() looks the MAC and the digest up in the provider tables on every
// call (~1.1 of its 1.7 us for a webhook body). Each thread keeps the last key's context
// instead and re-initializes it for each message (EVP_MAC_init without a key keeps the one
// set); a different key or digest replaces it. Per thread: no context is shared by threads.
std::string Hmac(const char* digest, std::string_view key, std::string_view data) {
  struct Cached {
    std::string digest, key;
    EVP_MAC_CTX* ctx = nullptr;
    ~Cached() { EVP_MAC_CTX_free(ctx); }
  };
  thread_local Cached cached;
  if (!cached.ctx || cached.key != key || cached.digest != digest) {
    EVP_MAC_CTX_free(cached.ctx);
    cached.ctx = nullptr;
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>(digest), 0),
                           OSSL_PARAM_construct_end()};
    if (!ctx || EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                             params) != 1) {
      EVP_MAC_CTX_free(ctx);
      throw std::runtime_error(std::string("HMAC-") + digest + " init failed");
    }
    cached.ctx = ctx;
    cached.key.assign(key);
    cached.digest = digest;
  }
  EVP_MAC_CTX* ctx = cached.ctx;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok =
      EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
      EVP_MAC_final(ctx, out, &len, sizeof(out)) == 1;
  if (!ok) {
    EVP_MAC_CTX_free(cached.ctx);  // start afresh on the next call
    cached.ctx = nullptr;
    throw std::runtime_error(std::string("HMAC-") + digest + " failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  return Hmac("SHA256", key, data);
}
std::string HmacSha1(std::string_view key, std::string_view data) {
  return Hmac("SHA1", key, data);
}
std::string Sha256(std::string_view data) { return Digest(EVP_sha256(), data); }
std::string Md5(std::string_view data) { return Digest(EVP_md5(), data); }

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view data) {
  if (data.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (data.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock does not strip the bytes that padding stands for.
  if (!data.empty() && data.back() == '=') --len;
  if (data.size() >= 2 && data[data.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string Base64UrlEncode(std::string_view data) {
  std::string s = Base64Encode(data);
  for (char& c : s) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string HexEncode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace reach::crypto
