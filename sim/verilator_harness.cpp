// C++ harness of the madvq Verilator backend: runs one Batch on the verilated core.
//
// Generated from this template for each configuration: the @...@ markers are replaced by the
// port-copying code for its widths. Implements exactly the testbench of the Amaranth backend
// (sim/amaranth_backend.py), cycle for cycle:
//
// * Cycle c is the time between rising edges c-1 and c; `c` is also the index into the cyclic
//   stall patterns. Inputs are set at the start of a cycle, outputs are read just before its
//   rising edge, and a stream transfers at that edge when valid and ready are both high.
// * One producer sends the items in order (per segment: template writes, the active count,
//   the vectors). It may raise valid for the next item only in a cycle whose valid_pattern
//   entry is true (every cycle without a pattern); once raised, valid and the data hold until
//   the transfer, and the next item may be raised in the cycle right after it. Data ports keep
//   their last value while valid is low.
// * result_ready follows ready_pattern (always high without one).
// * With reset_cycles R > 0, rst is high in cycles 0..R-1 and the producer and consumer start
//   in cycle R (result_ready low before); patterns stay indexed by the absolute cycle.
// * The run ends after the edge that transfers the last result; `cycles` is the number of
//   edges so far. No result by cycle `limit`: the run stops and reports a hang.
//
// Waveform: when a VCD path is given, cycles [vcd_start, vcd_stop) are dumped: at 10 ns * c
// (inputs of cycle c applied, clock low) and 10 ns * c + 5 ns (after the rising edge), so
// the rising edges fall at the same times as in the Amaranth backend's waveform (whose clock
// has a 10 ns period and its first rising edge at 5 ns).

#include "Vmodel.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

#include <cstdint>

#define MADVQ_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

enum Kind : uint8_t { TEMPLATE_WRITE = 0, ACTIVE_COUNT = 1, VECTOR = 2 };

const uint64_t DATA_WORDS = @DATA_WORDS@;       // 32-bit words of vector/codebook data
const uint64_t DISTANCES_WORDS = @DISTANCES_WORDS@;   // of result_distances (0: no port)

inline void set_vector_data(Vmodel* m, const uint32_t* w) {
@SET_VECTOR_DATA@
}

inline void set_codebook_data(Vmodel* m, const uint32_t* w) {
@SET_CODEBOOK_DATA@
}

inline void get_result_distances(Vmodel* m, uint32_t* w) {
@GET_RESULT_DISTANCES@
}

// Picoseconds per half clock period (the model's time precision is 1 ps).
const uint64_t HALF_PERIOD = 5000;

}  // namespace

// The layout of the arguments below; Python checks it before calling madvq_run.
MADVQ_EXPORT uint64_t madvq_data_words() { return DATA_WORDS; }
MADVQ_EXPORT uint64_t madvq_distances_words() { return DISTANCES_WORDS; }

// Returns 0 when every result arrived, 1 on a hang (no result by cycle `limit`), 2 when the
// VCD file could not be opened. `cycles` and `received` are written in every case.
MADVQ_EXPORT int madvq_run(
        uint64_t items, const uint8_t* kind, const int64_t* scalar, const uint32_t* data,
        uint64_t results, int64_t* index, int64_t* distance, uint32_t* distances,
        const uint8_t* valid_pattern, uint64_t valid_period,
        const uint8_t* ready_pattern, uint64_t ready_period,
        uint64_t reset_cycles, uint64_t limit, const char* vcd_path, uint64_t vcd_start, uint64_t vcd_stop,
        uint64_t* cycles, uint64_t* received) {
    VerilatedContext* context = new VerilatedContext;
    context->traceEverOn(vcd_path != nullptr);
    Vmodel* m = new Vmodel{context, "TOP"};
    VerilatedVcdC* vcd = nullptr;
    int status = 0;

    m->clk = 0;
    m->rst = reset_cycles > 0;
    m->vector_valid = 0;
    m->codebook_valid = 0;
    m->active_templates_valid = 0;
    m->result_ready = 0;

    uint64_t item = 0, got = 0, c = 0;
    uint64_t valid_phase = 0, ready_phase = 0;
    bool raised = false;
    for (;; ++c) {
        if (got == results) break;
        if (c >= limit) { status = 1; break; }
        if (vcd_path && c == vcd_start) {
            vcd = new VerilatedVcdC;
            m->trace(vcd, 99);
            vcd->open(vcd_path);
            if (!vcd->isOpen()) { status = 2; break; }
        }
        bool dumping = vcd && c < vcd_stop;

        bool running = c >= reset_cycles;
        m->rst = !running;
        if (running && !raised && item < items
                && (valid_period == 0 || valid_pattern[valid_phase])) {
            const uint32_t* row = data + item * DATA_WORDS;
            switch (kind[item]) {
            case TEMPLATE_WRITE:
                m->codebook_index = (uint32_t)scalar[item];
                set_codebook_data(m, row);
                m->codebook_valid = 1;
                break;
            case ACTIVE_COUNT:
                m->active_templates = (uint32_t)scalar[item];
                m->active_templates_valid = 1;
                break;
            default:
                set_vector_data(m, row);
                m->vector_valid = 1;
                break;
            }
            raised = true;
        }
        m->result_ready = running && (ready_period == 0 || ready_pattern[ready_phase]);

        m->clk = 0;
        m->eval();
        if (dumping) vcd->dump(2 * c * HALF_PERIOD);
        bool put = false;
        if (raised) {
            switch (kind[item]) {
            case TEMPLATE_WRITE: put = m->codebook_ready; break;
            case ACTIVE_COUNT: put = m->active_templates_ready; break;
            default: put = m->vector_ready; break;
            }
        }
        bool take = m->result_valid && m->result_ready;
        if (take) {
@GET_RESULT_NEAREST@
            if (DISTANCES_WORDS) get_result_distances(m, distances + got * DISTANCES_WORDS);
        }

        m->clk = 1;
        m->eval();
        if (dumping) vcd->dump((2 * c + 1) * HALF_PERIOD);

        if (put) {
            switch (kind[item]) {
            case TEMPLATE_WRITE: m->codebook_valid = 0; break;
            case ACTIVE_COUNT: m->active_templates_valid = 0; break;
            default: m->vector_valid = 0; break;
            }
            raised = false;
            ++item;
        }
        if (take) ++got;
        if (valid_period && ++valid_phase == valid_period) valid_phase = 0;
        if (ready_period && ++ready_phase == ready_period) ready_phase = 0;
    }
    // A window that starts after the run still gives a valid (empty) waveform file.
    if (vcd_path && !vcd && status == 0) {
        vcd = new VerilatedVcdC;
        m->trace(vcd, 99);
        vcd->open(vcd_path);
        if (!vcd->isOpen()) status = 2;
    }
    if (vcd) {
        vcd->close();
        delete vcd;
    }
    *cycles = c;
    *received = got;
    m->final();
    delete m;
    delete context;
    return status;
}
