#include "server/port_map.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::server {
namespace {

using ::testing::HasSubstr;

TEST(PortMapTest, EmptyIsTheIdentity) {
  absl::StatusOr<PortMap> map = PortMap::Parse("");
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE(map->empty());
  EXPECT_EQ(map->Advertised(5005), 5005);
  EXPECT_EQ(PortMap().Advertised(0), 0);
}

TEST(PortMapTest, MapsPortsAndRangesAsPodmanWritesThem) {
  absl::StatusOr<PortMap> map = PortMap::Parse("15005:5005,16000-16009:6000-6009");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->Advertised(5005), 15005);
  EXPECT_EQ(map->Advertised(6000), 16000);
  EXPECT_EQ(map->Advertised(6007), 16007);
  EXPECT_EQ(map->Advertised(6010), 6010) << "outside every entry";
  EXPECT_EQ(map->Advertised(0), 0) << "pipes and serial lines have no port";
}

TEST(PortMapTest, RefusesMalformedEntriesNamingThem) {
  for (const char* bad : {"5005", "a:5005", "15005:0", "15005:70000",
                          "16000-16009:6000-6008", "15005:5005:1", "16009-16000:6009-6000",
                          "15005:5005,15006:5005", "1-5:1-5,10:3"}) {
    absl::StatusOr<PortMap> map = PortMap::Parse(bad);
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(map.status().message(), HasSubstr("--advertise_ports: \"")) << bad;
  }
  EXPECT_THAT(PortMap::Parse("16000-16009:6000-6008").status().message(),
              HasSubstr("different lengths"));
}

}  // namespace
}  // namespace dbgd::server
