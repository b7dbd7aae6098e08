// common/utc_time.h: the one parser of date-time text (carbon series, power-budget windows).
#include "common/utc_time.h"

#include <gtest/gtest.h>

namespace cnet {
namespace {

constexpr int64_t k2020 = 1577836800;  // 2020-01-01T00:00:00Z (date -u -d 2020-01-01 +%s)

TEST(UtcTimeTest, FormsOfOneInstant) {
  for (const char* t : {"2020-01-01", "2020-01-01 00:00:00", "2020-01-01T00:00", "2020-01-01T00:00:00Z",
                        "2020-01-01T00:00:00.000Z", "2020-01-01T01:00:00+01:00", "2020-01-01 01:00+0100",
                        "2019-12-31T19:00:00-05", "2020-01-01 00:00:00 +00:00"})
    EXPECT_EQ(ParseUtcDateTime(t), k2020) << t;
}

TEST(UtcTimeTest, CalendarArithmetic) {
  EXPECT_EQ(ParseUtcDateTime("1970-01-01"), 0);
  EXPECT_EQ(ParseUtcDateTime("2020-03-01") .value() - ParseUtcDateTime("2020-02-28").value(), 2 * 86400);  // leap
  EXPECT_EQ(ParseUtcDateTime("2021-03-01").value() - ParseUtcDateTime("2021-02-28").value(), 86400);
  EXPECT_EQ(ParseUtcDateTime("2020-12-31T23:59:59").value() - k2020, 366 * 86400 - 1);
  EXPECT_EQ(ParseUtcDateTime("1969-12-31T23:59:59"), -1);
}

TEST(UtcTimeTest, MalformedOrOutOfRangeIsRefused) {
  for (const char* t : {"", "2020", "2020-1-01", "2020-13-01", "2021-02-29", "2020-04-31", "2020-01-01T24:00",
                        "2020-01-01T10:60", "2020-01-01T10", "2020-01-01T10:00:00.", "2020-01-01 x",
                        "2020-01-01T00:00:00+19:00", "2020-01-01T00:00:00Zjunk", "20200101"})
    EXPECT_FALSE(ParseUtcDateTime(t).has_value()) << t;
}

TEST(UtcTimeTest, TimeOfDay) {
  EXPECT_EQ(ParseTimeOfDay("00:00"), 0);
  EXPECT_EQ(ParseTimeOfDay("17:30"), 17 * 3600 + 30 * 60);
  EXPECT_EQ(ParseTimeOfDay("23:59:59"), 86399);
  EXPECT_EQ(ParseTimeOfDay("24:00"), 86400);
  for (const char* t : {"24:01", "7:00", "12:60", "12:00:60", "12:00 ", "2020-01-01"})
    EXPECT_FALSE(ParseTimeOfDay(t).has_value()) << t;
}

}  // namespace
}  // namespace cnet
