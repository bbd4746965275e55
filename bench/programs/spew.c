/* spew: the console the throughput and fan-out benchmarks read.
 *
 *   spew BYTES [RATE]
 *
 * Waits for one line on stdin (so every reader has joined before the first
 * byte), then writes BYTES bytes to stdout in lines of 64 characters (63
 * digits and '\n'), 64 KiB a write, as fast as it can or at RATE bytes a
 * second (bursts every 10 ms), then the marker line "#spew-done#". It then
 * reads stdin until end of file, so a reader that closes its end ends it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    size -= (size_t)n;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: spew BYTES [RATE]\n");
    return 2;
  }
  char* end = NULL;
  const unsigned long long bytes = strtoull(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0') {
    fprintf(stderr, "spew: BYTES is not a number: %s\n", argv[1]);
    return 2;
  }
  unsigned long long rate = 0;
  if (argc == 3) {
    rate = strtoull(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0') {
      fprintf(stderr, "spew: RATE is not a number: %s\n", argv[2]);
      return 2;
    }
  }

  enum { kChunk = 64 * 1024 };
  static char chunk[kChunk];
  for (size_t i = 0; i < kChunk; ++i) chunk[i] = (i % 64 == 63) ? '\n' : (char)('0' + i % 10);

  char line[256];
  if (fgets(line, sizeof line, stdin) == NULL) return 1;

  /* At RATE, each 10 ms burst is RATE/100 bytes; otherwise whole chunks. */
  const unsigned long long burst = rate ? (rate / 100 ? rate / 100 : 1) : kChunk;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  unsigned long long sent = 0;
  while (sent < bytes) {
    unsigned long long budget = burst;
    while (budget > 0 && sent < bytes) {
      unsigned long long n = budget < kChunk ? budget : kChunk;
      if (n > bytes - sent) n = bytes - sent;
      /* Keep line positions aligned with the stream: start where we are. */
      const size_t offset = (size_t)(sent % 64);
      if (n > kChunk - offset) n = kChunk - offset;
      if (write_all(chunk + offset, (size_t)n) != 0) return 1;
      sent += n;
      budget -= n;
    }
    if (rate) {
      next.tv_nsec += 10 * 1000 * 1000;
      if (next.tv_nsec >= 1000 * 1000 * 1000) {
        next.tv_nsec -= 1000 * 1000 * 1000;
        ++next.tv_sec;
      }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
  }
  static const char kDone[] = "\n#spew-done#\n";
  if (write_all(kDone, sizeof kDone - 1) != 0) return 1;
  while (fgets(line, sizeof line, stdin) != NULL) {
  }
  return 0;
}
