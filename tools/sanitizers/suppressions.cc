// Sanitizer suppressions compiled into every binary that links gRPC, so they
// apply however a test is started (Bazel's sandbox cannot see a
// suppressions file by path). The runtimes look these hooks up by name; in a
// build without that sanitizer they are never called.
//
// Each entry concerns a system library we cannot rebuild or fix. None hides
// a report about our own code.

// LeakSanitizer: gRPC's DNS resolver, c-ares, keeps ~10 bytes per resolver
// initialisation that it never frees. Bounded; once per channel.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcares.so\n";
}

// ThreadSanitizer: Debian's gRPC, gpr and Abseil are not built with
// -fsanitize=thread, so their internal locking is invisible and what they do
// through intercepted calls (memmove, epoll_wait on a descriptor another
// thread made, …) looks racy. `ignore_noninstrumented_modules` and
// `called_from_lib` drop only reports whose racing access those libraries
// make themselves; races in our own (instrumented) code stay reported, even
// when gRPC called it. GraphCycles is Abseil's deadlock detector, which
// copies its tables with memmove under a spinlock TSan cannot see.
extern "C" const char* __tsan_default_options() {
  return "ignore_noninstrumented_modules=1";
}

extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so.29\n"
         "called_from_lib:libgrpc++.so.1.51\n"
         "called_from_lib:libgpr.so.29\n"
         "race:GraphCycles\n"
         // absl::Status frees its shared payload after an atomic decrement
         // made inside libabsl_status, which TSan does not see.
         "race:Status::UnrefNonInlined\n"
         "race:libabsl_graphcycles_internal.so\n";
}
