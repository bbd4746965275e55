/* The debuggee of the example scripts' test: a breakpoint in multiply()
   finds a = 6, b = 7. */
#include <stdio.h>

int multiply(int a, int b) { return a * b; }

int main(void) {
  printf("answer %d\n", multiply(6, 7));
  return 0;
}
