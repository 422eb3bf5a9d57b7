#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (compiler-rt's libclang_rt.fuzzer_no_main): runs the
// fuzzing loop with `callback` as the target, taking libFuzzer's flags from
// argv. FuzzSupport.fuzzMain calls it from each harness's main, which SwiftPM requires.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
