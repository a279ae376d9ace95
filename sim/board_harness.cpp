// C++ harness of the simulated board on Verilator: the board top with its serial line driven
// and watched bit by bit, exactly as the Amaranth simulated board (sim/board.py) does it.
//
// * One cycle: the rx line is set, then a rising clock edge; tx is read after the edge. With
//   MADVQ_CORE_CLOCK_RATIO 2 (a board whose core runs at twice the link's clock) the cycle
//   also has two rising edges of core_clk (core_rst held low).
// * Host bytes queue up (board_write) and go out on rx back to back, DIVISOR cycles per bit,
//   8N1 (an item of 0x100 holds the line low for 20 bits, then high: a break).
// * tx is decoded as the Amaranth board does: a start bit is seen after the edge where the
//   line goes low; each bit is then sampled DIVISOR cycles apart from DIVISOR/2 on.
// * board_run advances up to `cycles` cycles and returns early at the end of the cycle in
//   which a byte from the board completes.

#include "Vmodel.h"
#include "verilated.h"

#include <cstdint>
#include <deque>
#include <vector>

#define MADVQ_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

struct Board {
    VerilatedContext* context;
    Vmodel* m;
    uint64_t divisor;
    uint64_t cycle = 0;
    std::deque<uint16_t> to_board;
    // rx driver: the bits of the item being sent, and the cycles left of the current bit.
    std::vector<uint8_t> bits;
    size_t bit = 0;
    uint64_t left = 0;
    // tx watcher: -1 idle, else the cycles until the next sample; `got` bits so far.
    int64_t wait = -1;
    int got = 0;
    uint32_t value = 0;
    bool in_break = false;
    uint64_t line_errors = 0;
};

#ifndef MADVQ_CORE_CLOCK_RATIO
void edge(Board* b) {
    b->m->clk = 0;
    b->m->eval();
    b->m->clk = 1;
    b->m->eval();
    b->cycle++;
}
#else
// The core's clock at twice the link's: a core edge half-way through the link's cycle, then
// both edges together (as a PLL's output and its half rise).
void edge(Board* b) {
    b->m->clk = 0;
    b->m->core_clk = 1;
    b->m->eval();
    b->m->core_clk = 0;
    b->m->eval();
    b->m->clk = 1;
    b->m->core_clk = 1;
    b->m->eval();
    b->m->core_clk = 0;
    b->m->eval();
    b->cycle++;
}
#endif

}  // namespace

MADVQ_EXPORT void* board_new(uint64_t divisor) {
    Board* b = new Board;
    b->context = new VerilatedContext;
    b->m = new Vmodel{b->context, "TOP"};
    b->divisor = divisor;
    b->m->clk = 0;
    b->m->rst = 0;
#ifdef MADVQ_CORE_CLOCK_RATIO
    b->m->core_clk = 0;
    b->m->core_rst = 0;
#endif
    b->m->rx = 1;
    b->m->eval();
    return b;
}

MADVQ_EXPORT void board_free(void* handle) {
    Board* b = static_cast<Board*>(handle);
    b->m->final();
    delete b->m;
    delete b->context;
    delete b;
}

MADVQ_EXPORT void board_write(void* handle, const uint16_t* items, uint64_t n) {
    Board* b = static_cast<Board*>(handle);
    for (uint64_t k = 0; k < n; k++) b->to_board.push_back(items[k]);
}

MADVQ_EXPORT uint64_t board_line_errors(void* handle) {
    return static_cast<Board*>(handle)->line_errors;
}

// Runs at most `cycles` cycles; bytes from the board go to out[0..cap). Returns the cycles
// run; *n_out is the number of bytes received.
MADVQ_EXPORT uint64_t board_run(void* handle, uint64_t cycles, uint8_t* out, uint64_t cap,
                                uint64_t* n_out) {
    Board* b = static_cast<Board*>(handle);
    const uint64_t div = b->divisor;
    uint64_t n = 0, run = 0;
    while (run < cycles && n < cap) {
        // The rx line for this cycle.
        if (b->left == 0) {
            if (b->bit + 1 < b->bits.size()) {
                b->bit++;
                b->left = div;
            } else if (!b->to_board.empty()) {
                uint16_t item = b->to_board.front();
                b->to_board.pop_front();
                b->bits.clear();
                if (item > 0xFF) {
                    b->bits.assign(20, 0);
                    b->bits.push_back(1);
                } else {
                    b->bits.push_back(0);
                    for (int k = 0; k < 8; k++) b->bits.push_back((item >> k) & 1);
                    b->bits.push_back(1);
                }
                b->bit = 0;
                b->left = div;
            } else {
                b->bits.clear();
                b->bit = 0;
            }
        }
        b->m->rx = (b->left != 0 && b->bit < b->bits.size()) ? b->bits[b->bit] : 1;
        if (b->left != 0) b->left--;

        edge(b);
        run++;

        // The tx line after the edge.
        const int tx = b->m->tx & 1;
        if (b->in_break) {
            if (tx) b->in_break = false;
        } else if (b->wait < 0) {
            if (!tx) {
                b->wait = div / 2;        // to the middle of the start bit
                b->got = -1;              // -1: the start bit itself
                b->value = 0;
            }
        } else if (--b->wait <= 0) {
            if (b->got < 0) {
                b->got = 0;
                b->wait = div;
            } else if (b->got < 8) {
                b->value |= (uint32_t)tx << b->got;
                b->got++;
                b->wait = div;
            } else {                      // the stop bit
                if (!tx) {
                    b->line_errors++;
                    b->in_break = true;
                }
                out[n++] = (uint8_t)b->value;
                b->wait = -1;
                break;                    // a byte came: let the host look at it
            }
        }
    }
    *n_out = n;
    return run;
}
