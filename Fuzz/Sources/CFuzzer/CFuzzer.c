#include "CFuzzer.h"

// libFuzzer's object files refer to this symbol even when the target is
// passed to LLVMFuzzerRunDriver, which is the one that runs.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    return 0;
}
