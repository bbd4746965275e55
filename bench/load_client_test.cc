#include "bench/load_client.h"

#include "gtest/gtest.h"

namespace dbgd::bench {
namespace {

TEST(NumberedLines, StartsAtTheFirstWholeLineAndCountsEachInOrder) {
  NumberedLines lines;
  lines.Feed("17\r\n18\r");  // a late joiner's history begins mid-line
  lines.Feed("\n19\r\n2");
  lines.Feed("0\r\n");
  EXPECT_EQ(lines.lines(), 3u);  // 18, 19, 20: "17" may be a tail
  EXPECT_EQ(lines.gaps(), 0u);
  EXPECT_EQ(lines.last(), 20);
}

TEST(NumberedLines, ALostLineIsAGap) {
  NumberedLines lines;
  lines.Feed("\n1\n2\n4\n5\n");
  EXPECT_EQ(lines.gaps(), 1u);
  EXPECT_EQ(lines.first_gap(), "after 2 came 4");
}

TEST(NumberedLines, SomethingElseIsAGap) {
  NumberedLines lines;
  lines.Feed("\n1\n\x1b[2Khello\n2\n");
  EXPECT_EQ(lines.gaps(), 1u);
  EXPECT_EQ(lines.first_gap(), "after 1 came \"\\x1b[2Khello\"");
  EXPECT_EQ(lines.lines(), 2u);
}

}  // namespace
}  // namespace dbgd::bench
