// Formal harness of a madvq core: the core's contract, checked against its exported Verilog.
//
// Read by Yosys (read_verilog -formal -sv) with the core's Verilog and, for cores in ECP5
// arithmetic, Yosys' own CCU2C model. madvq.gen.formal fills the parameters from the
// CoreConfig (chparam) and defines:
//   MADVQ_CORE       the core's module name
//   MADVQ_DISTANCES  when the core has the result_distances port
//
// Every input of this module is free in every cycle (the solver picks it); the only
// assumptions are the stream rules a producer must keep (valid and its data held until the
// transfer), so nothing the core might get wrong is ruled out by the environment.
//
// The checks, each an assertion below:
//   (1) every accepted vector gets its own result, in order, with the index and distance
//       that the codebook and active count give as they stood when it was accepted
//       (argmin over templates 0..m-1, ties to the lowest index); with all distances, the
//       distance to every template. A codebook write therefore never tears;
//   (2) no result without a vector, and never more results held than the credit depth;
//   (3) result_valid and the result's data hold until the consumer takes it;
//   (4) while the consumer is ready, a result owed comes out within LATENCY cycles and
//       vector_ready comes back within STALL_BOUND cycles unless a configuration write is
//       offered; a codebook write is taken within CYCLES cycles.
//
// It scales because it keeps no queue of expected results: the solver picks ONE accepted
// vector to follow (the free input `pick`); the harness records that vector's expected
// result from a shadow codebook, counts the results still ahead of it, and compares when its
// turn comes. Any wrong result is the followed one on some trace, so this checks all of them.

module madvq_formal #(
    parameter N = 1,             // dims
    parameter M = 1,             // templates
    parameter W = 1,             // width
    parameter SIGNED = 0,
    parameter IW = 1,            // index width
    parameter AW = 1,            // active-count width
    parameter DW = 1,            // distance width
    parameter LATENCY = 1,       // CoreConfig.latency_cycles
    parameter CYCLES = 1,        // CoreConfig.cycles_per_vector
    parameter DEPTH = 1,         // CoreConfig.result_queue_depth
    parameter STALL_BOUND = 1,   // cycles vector_ready may stay low, consumer ready, no writes
    parameter CW = 4,            // width of the harness' counters of results
    parameter TW = 4,            // width of its timers
    parameter RESET = 0,         // 1: rst is free (asserted at any time), 0: tied low
    parameter READY = 0,         // 1: the consumer takes every result at once (assumed)
    parameter CHECK = 4'b1111    // groups of checks: results, count, stream, progress
) (
    input clk,
    input rst_in,
    input vector_valid,
    input [N*W-1:0] vector_data,
    input codebook_valid,
    input [IW-1:0] codebook_index,
    input [N*W-1:0] codebook_data,
    input active_templates_valid,
    input [AW-1:0] active_templates,
    input result_ready,
    input pick                    // follow the vector accepted in this cycle
);
    wire rst = RESET ? rst_in : 1'b0;

    wire vector_ready, codebook_ready, active_templates_ready, result_valid;
    wire [IW-1:0] result_index;
    wire [DW-1:0] result_distance;
    wire [M*DW-1:0] result_distances;

    `MADVQ_CORE core (
        .clk(clk), .rst(rst),
        .vector_valid(vector_valid), .vector_ready(vector_ready), .vector_data(vector_data),
        .codebook_valid(codebook_valid), .codebook_ready(codebook_ready),
        .codebook_index(codebook_index), .codebook_data(codebook_data),
        .active_templates_valid(active_templates_valid),
        .active_templates_ready(active_templates_ready),
        .active_templates(active_templates),
        .result_valid(result_valid), .result_ready(result_ready),
        .result_index(result_index), .result_distance(result_distance)
`ifdef MADVQ_DISTANCES
        , .result_distances(result_distances)
`endif
    );
`ifndef MADVQ_DISTANCES
    assign result_distances = 0;
`endif

    // Transfers at an edge where reset is asserted do not count: the core is being reset.
    wire accept = vector_valid & vector_ready & ~rst;
    wire deliver = result_valid & result_ready & ~rst;
    wire book_write = codebook_valid & codebook_ready & ~rst;
    wire active_write = active_templates_valid & active_templates_ready & ~rst;

    // -- environment: producers keep valid and data steady until the transfer --
    reg vector_held = 0, book_held = 0, active_held = 0;
    reg [N*W-1:0] vector_last = 0, book_data_last = 0;
    reg [IW-1:0] book_index_last = 0;
    reg [AW-1:0] active_last = 0;
    always @(posedge clk) begin
        vector_held <= vector_valid & ~vector_ready & ~rst;
        book_held <= codebook_valid & ~codebook_ready & ~rst;
        active_held <= active_templates_valid & ~active_templates_ready & ~rst;
        vector_last <= vector_data;
        book_data_last <= codebook_data;
        book_index_last <= codebook_index;
        active_last <= active_templates;
    end
    always @* begin
        if (READY) assume (result_ready);
        if (vector_held) assume (vector_valid && vector_data == vector_last);
        if (book_held) assume (codebook_valid && codebook_data == book_data_last
                               && codebook_index == book_index_last);
        if (active_held) assume (active_templates_valid && active_templates == active_last);
    end

    // -- reference model: the codebook and active count as the contract defines them --
    // All zero at power-up and kept across reset; a write to an index >= M is ignored.
    // Template j at [j*N*W +: N*W]; flat registers rather than a memory, so that every
    // engine (PDR included) sees plain state.
    reg [M*N*W-1:0] shadow = 0;
    always @(posedge clk)
        if (book_write && codebook_index < M)
            shadow[codebook_index*N*W +: N*W] <= codebook_data;
    // M after power-up and after reset; counts outside 1..M are ignored.
    reg [AW-1:0] shadow_m = M;
    always @(posedge clk)
        if (rst)
            shadow_m <= M;
        else if (active_write && active_templates >= 1 && active_templates <= M)
            shadow_m <= active_templates;

    // Sum of absolute differences of two vectors. Values are compared in offset binary
    // (sign bit flipped when signed), whose unsigned order is the numeric order.
    function [DW-1:0] mad(input [N*W-1:0] x, input [N*W-1:0] t);
        integer i;
        reg [W-1:0] a, b;
        begin
            mad = 0;
            for (i = 0; i < N; i = i + 1) begin
                a = x[i*W +: W] ^ (SIGNED ? {1'b1, {(W-1){1'b0}}} : {W{1'b0}});
                b = t[i*W +: W] ^ (SIGNED ? {1'b1, {(W-1){1'b0}}} : {W{1'b0}});
                mad = mad + (a > b ? a - b : b - a);
            end
        end
    endfunction

    // What the vector offered now must get: every distance, and the nearest of templates
    // 0..m-1 with ties to the lowest index.
    reg [M*DW-1:0] want_distances;
    reg [IW-1:0] want_index;
    reg [DW-1:0] want_distance;
    integer j;
    always @* begin
        for (j = 0; j < M; j = j + 1)
            want_distances[j*DW +: DW] = mad(vector_data, shadow[j*N*W +: N*W]);
        want_index = 0;
        want_distance = want_distances[0 +: DW];
        for (j = 1; j < M; j = j + 1)
            if (j < shadow_m && want_distances[j*DW +: DW] < want_distance) begin
                want_index = j;
                want_distance = want_distances[j*DW +: DW];
            end
    end

    // -- bookkeeping: vectors accepted and not yet answered --
    reg [CW-1:0] owed = 0;
    always @(posedge clk)
        if (rst)
            owed <= 0;
        else
            owed <= owed + accept - deliver;

    // -- the followed vector --
    localparam IDLE = 2'd0, WAITING = 2'd1, DONE = 2'd2;
    reg [1:0] state = IDLE;
    reg [CW-1:0] ahead = 0;        // results that leave before the followed vector's
    reg [IW-1:0] expect_index = 0;
    reg [DW-1:0] expect_distance = 0;
    reg [M*DW-1:0] expect_distances = 0;
    always @(posedge clk)
        if (rst)
            state <= IDLE;
        else if (state == IDLE && accept && pick) begin
            state <= WAITING;
            // The results owed now, less one leaving in this cycle, all go first.
            ahead <= owed - deliver;
            expect_index <= want_index;
            expect_distance <= want_distance;
            expect_distances <= want_distances;
        end else if (state == WAITING && deliver) begin
            if (ahead == 0)
                state <= DONE;
            else
                ahead <= ahead - 1;
        end

    // -- timers: cycles of waiting while the consumer is ready --
    reg [TW-1:0] result_wait = 0, vector_wait = 0, write_wait = 0;
    always @(posedge clk) begin
        result_wait <= (!rst && owed != 0 && result_ready && !result_valid)
                       ? result_wait + 1 : 0;
        vector_wait <= (!rst && result_ready && !vector_ready && !codebook_valid
                        && !active_templates_valid) ? vector_wait + 1 : 0;
        write_wait <= (!rst && codebook_valid && !codebook_ready)
                      ? write_wait + 1 : 0;
    end

    // -- the result stream as the consumer saw it in the previous cycle --
    reg result_held = 0;
    reg [IW-1:0] index_last = 0;
    reg [DW-1:0] distance_last = 0;
    reg [M*DW-1:0] distances_last = 0;
    always @(posedge clk) begin
        result_held <= result_valid & ~result_ready & ~rst;
        index_last <= result_index;
        distance_last <= result_distance;
        distances_last <= result_distances;
    end

    // Each group of checks can be switched off (CHECK bits), so that a proof can be split
    // into jobs that an engine settles one by one.
    always @* begin
        if (CHECK[0]) begin
            // (1) the followed vector's result, whenever it is offered
            if (state == WAITING && ahead == 0 && result_valid) begin
                result_index_ok: assert (result_index == expect_index);
                result_distance_ok: assert (result_distance == expect_distance);
`ifdef MADVQ_DISTANCES
                result_distances_ok: assert (result_distances == expect_distances);
`endif
            end
            // (1) configuration writes go before a vector: never in the same transfer cycle
            writes_first: assert (!(accept && (book_write || active_write)));
            // the harness' own invariant (helps induction)
            follow_ok: assert (state != WAITING || ahead < owed);
        end
        if (CHECK[1]) begin
            // (2) no result without a vector; no more results owed than the credit covers
            no_result_without_vector: assert (!result_valid || owed != 0);
            within_credit: assert (owed <= DEPTH);
        end
        if (CHECK[2]) begin
            // (3) the stream rule on the output
            if (result_held) begin
                result_valid_held: assert (result_valid);
                result_data_held: assert (result_index == index_last
                                          && result_distance == distance_last
                                          && result_distances == distances_last);
            end
        end
        if (CHECK[3]) begin
            // (4) bounded waits
            result_in_time: assert (result_wait < LATENCY);
            vector_ready_in_time: assert (vector_wait < STALL_BOUND);
            write_taken_in_time: assert (write_wait < CYCLES);
        end
    end
endmodule
