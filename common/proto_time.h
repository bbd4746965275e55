// ToProtoTime: an absl::Time as the google.protobuf.Timestamp the control
// API carries.
//
// Thread-safety: a pure function.

#ifndef DBGD_COMMON_PROTO_TIME_H_
#define DBGD_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace dbgd {

inline google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(time));
}

}  // namespace dbgd

#endif  // DBGD_COMMON_PROTO_TIME_H_
