/*
 * The native twin of a guest program: the same source compiled for the host, called through the same
 * entry point. Prints the checksum that the guest's `run` export returns, so both can be compared:
 *
 *   native-sort 1000    ->  <checksum>
 *   polkatool run sort.polkavm --call run --args 1000   ->  a0 = <same checksum>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint32_t run(uint32_t arg);

int main(int argc, char** argv) {
  uint32_t arg = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 0;
  int repeat = argc > 2 ? atoi(argv[2]) : 1;
  uint32_t result = 0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < repeat; ++i) result = run(arg);
  clock_gettime(CLOCK_MONOTONIC, &end);
  printf("%u\n", (unsigned)result);
  if (repeat > 1) {
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) * 1e-9;
    fprintf(stderr, "%.6f s per call\n", seconds / repeat);
  }
  return 0;
}
