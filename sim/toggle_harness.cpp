// C++ harness of madvq.sim.toggles: drives a verilated netlist through a fixed schedule of
// input values, one row per clock cycle, records its outputs, and counts how often each bit
// of its probe port changes.
//
// Generated from this template for each netlist: the @...@ markers are replaced by the code
// that copies its ports. Per cycle c:
//
// * the inputs of row c are applied with the clock low and the model evaluated (sample A:
//   the nets settle to the new inputs); the outputs are recorded there, just before the
//   rising edge, where a stream handshake is decided;
// * the clock rises and the model is evaluated again (sample B: the registers take their
//   new values and the nets settle again).
//
// A toggle of probe bit i in cycle c is a change between consecutive samples (B of cycle
// c-1 to A of cycle c, and A to B of cycle c); toggles are counted for cycles in
// [start, stop). A zero-delay simulation sees at most these two settled values per cycle,
// so glitches between them are not counted. The clock itself is not part of the probe.

#include "Vmodel.h"
#include "verilated.h"

#include <cstdint>
#include <vector>

#define TOGGLE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

const uint64_t IN_WORDS = @IN_WORDS@;        // 32-bit words of one row of inputs
const uint64_t OUT_WORDS = @OUT_WORDS@;      // of one row of outputs
const uint64_t PROBE_WORDS = @PROBE_WORDS@;  // of the probe port

inline void set_inputs(Vmodel* m, const uint32_t* w) {
@SET_INPUTS@
}

inline void get_outputs(Vmodel* m, uint32_t* w) {
@GET_OUTPUTS@
}

inline void get_probe(Vmodel* m, uint32_t* w) {
@GET_PROBE@
}

inline void set_clock(Vmodel* m, int level) {
@SET_CLOCK@
}

// Adds one to toggles[i] for every probe bit i that differs between `now` and `before` (when
// `count` is set), then makes `before` equal to `now`.
inline void compare(const uint32_t* now, uint32_t* before, uint64_t* toggles, bool count) {
    for (uint64_t k = 0; k < PROBE_WORDS; ++k) {
        uint32_t changed = now[k] ^ before[k];
        before[k] = now[k];
        if (!count) continue;
        while (changed) {
            toggles[32 * k + __builtin_ctz(changed)] += 1;
            changed &= changed - 1;
        }
    }
}

}  // namespace

// The layout Python checks before calling toggle_run: 0 inputs, 1 outputs, 2 probe (words).
TOGGLE_EXPORT uint64_t toggle_words(int which) {
    return which == 0 ? IN_WORDS : which == 1 ? OUT_WORDS : PROBE_WORDS;
}

// inputs: cycles x IN_WORDS; outputs: cycles x OUT_WORDS (written); toggles: 32 x PROBE_WORDS
// counters (added to). Returns 0.
TOGGLE_EXPORT int toggle_run(uint64_t cycles, const uint32_t* inputs, uint32_t* outputs,
                             uint64_t start, uint64_t stop, uint64_t* toggles) {
    VerilatedContext* context = new VerilatedContext;
    Vmodel* m = new Vmodel{context, "TOP"};
    std::vector<uint32_t> now(PROBE_WORDS), before(PROBE_WORDS);

    set_clock(m, 0);
    if (cycles) set_inputs(m, inputs);
    m->eval();
    get_probe(m, before.data());
    for (uint64_t c = 0; c < cycles; ++c) {
        bool count = c >= start && c < stop;
        set_inputs(m, inputs + c * IN_WORDS);
        set_clock(m, 0);
        m->eval();
        get_probe(m, now.data());
        compare(now.data(), before.data(), toggles, count);
        get_outputs(m, outputs + c * OUT_WORDS);

        set_clock(m, 1);
        m->eval();
        get_probe(m, now.data());
        compare(now.data(), before.data(), toggles, count);
    }
    m->final();
    delete m;
    delete context;
    return 0;
}
