// Helpers for the template tests: temp folders and golden files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace reach::templates::testing {

// A fresh folder under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "reach-tpl-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(std::filesystem::path(path_) / name, std::ios::binary | std::ios::trunc)
        << content;
  }
  void Remove(const std::string& name) const {
    std::filesystem::remove(std::filesystem::path(path_) / name);
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with golden/<name>. REACH_UPDATE_GOLDEN=1 rewrites the file instead
// (review the diff by hand before committing).
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(REACH_TEMPLATES_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("REACH_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << "missing golden file " << path;
  EXPECT_EQ(ReadFile(path), actual) << "golden " << name << " differs";
}

}  // namespace reach::templates::testing
