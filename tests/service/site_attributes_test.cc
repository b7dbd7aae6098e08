// Site attributes in the service config (service/site_attributes.h): parsed strictly, with the
// file, line, column and field of every error; `region` joins them from the site's own key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "service/config.h"

namespace cnet::service {
namespace {

Result<ServiceConfig> Load(const std::string& yaml) {
  const std::string path = (std::filesystem::temp_directory_path() / ("cnet-attrs-" + std::to_string(::getpid()) + ".yaml")).string();
  {
    std::ofstream f(path);
    f << yaml;
  }
  auto r = LoadConfig(path);
  std::filesystem::remove(path);
  return r;
}

std::string Error(const std::string& yaml) {
  auto r = Load(yaml);
  EXPECT_FALSE(r.ok());
  std::string m = r.ok() ? "" : r.status().message();
  return m.substr(m.find(':') + 1);  // without the temp file's name
}

TEST(SiteAttributes, ParsedWithRegionFromTheSite) {
  auto r = Load("sites:\n  - {name: sh, type: fake, region: east, attributes: {country: CN, security_level: 3, tier1: true}}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& a = r->sites[0].attributes;
  EXPECT_EQ(a.at("country"), "CN");
  EXPECT_EQ(a.at("security_level"), "3");
  EXPECT_EQ(a.at("tier1"), "true");
  EXPECT_EQ(a.at("region"), "east");
  auto none = Load("sites:\n  - {name: sh, type: fake}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->sites[0].attributes.at("region"), "local");
}

TEST(SiteAttributes, ErrorsNameLineColumnAndField) {
  EXPECT_EQ(Error("sites:\n  - name: sh\n    attributes: [CN]\n"),
            "3:17: field 'sites[0].attributes': expected a mapping of attribute: value, e.g. {country: CN, security_level: 3}");
  EXPECT_EQ(Error("sites:\n  - name: sh\n    attributes:\n      country: [CN, US]\n"),
            "4:16: field 'sites[0].attributes.country': expected a single value (a word or a number), not a list or mapping");
  EXPECT_EQ(Error("sites:\n  - name: sh\n    attributes: {country: 'C N'}\n"),
            "3:27: field 'sites[0].attributes.country': 'C N' is not a value a residency expression can name (letters, digits, _ . - : / +)");
  EXPECT_EQ(Error("sites:\n  - name: sh\n    attributes: {9lives: x}\n"),
            "3:18: field 'sites[0].attributes': attribute names start with a letter and use letters, digits, _ . - : / +");
  EXPECT_EQ(Error("sites:\n  - name: sh\n    region: east\n    attributes: {region: west}\n"),
            "4:26: field 'sites[0].attributes.region': differs from the site's region 'east'; give it once");
}

}  // namespace
}  // namespace cnet::service
