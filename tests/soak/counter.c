/* counter: prints 0, 1, 2, ... one per line, RATE lines a second (default
 * 10000), in bursts every 10 ms, for ever. What the soak's console carries. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  const long rate = argc > 1 ? atol(argv[1]) : 10000;
  const long burst = rate / 100 > 0 ? rate / 100 : 1;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (unsigned long long n = 0;;) {
    for (long i = 0; i < burst; ++i) printf("%llu\n", n++);
    fflush(stdout);
    next.tv_nsec += 10 * 1000 * 1000;
    if (next.tv_nsec >= 1000 * 1000 * 1000) {
      next.tv_nsec -= 1000 * 1000 * 1000;
      ++next.tv_sec;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
}
