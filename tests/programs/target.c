// A debuggee for end-to-end tests, built with -g -O0.
//
//   target crash   call compute(), then crash_here() dereferences NULL
//   target loop    spin() forever (for Break and attach)
//   target exit N  exit with status N
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int counter;

int compute(int x) { return x * 2 + 1; }

void crash_here(void) {
  volatile int* nowhere = NULL;
  *nowhere = compute(20);
}

void spin(void) {
  for (;;) {
    counter++;
    usleep(1000);
  }
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "crash";
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("target pid %d mode %s\n", (int)getpid(), mode);
  if (strcmp(mode, "loop") == 0) spin();
  if (strcmp(mode, "crash") == 0) crash_here();
  if (strcmp(mode, "exit") == 0) return argc > 2 ? atoi(argv[2]) : 0;
  return 0;
}
