// Formal harness of a core's result queue (madvq.hdl.core.result_queue): the queue's own
// contract, checked against its Verilog as the core's export writes it.
//
// Read by Yosys (read_verilog -formal -sv) with the queue's Verilog; madvq.gen.formal sets
// the parameters from the CoreConfig and defines MADVQ_QUEUE (the queue's module name).
//
// The core relies on four things of its queue, each an assertion below:
//   (q1) every entry written comes out once, in order, with its data;
//   (q2) nothing comes out that was not written;
//   (q3) the queue takes a write whenever it holds fewer than DEPTH entries (the core's
//        credit counter lets DEPTH results be owed at once and never writes beyond them);
//   (q4) r_rdy and r_data hold until the entry is taken;
//   (q5) an entry held is offered within LATENCY cycles of its write (nothing is stuck).
// Every input is free in every cycle: writes are offered at will, full or not (one that
// finds w_rdy low does not count), and the reader takes entries at will.
//
// As in the core's harness, the solver picks ONE written entry to follow (the free input
// `pick`); the harness counts the entries ahead of it and compares when its turn comes, so
// the harness' state is a few counters and one entry.

module madvq_queue_formal #(
    parameter WIDTH = 1,         // bits per entry
    parameter DEPTH = 1,         // CoreConfig.result_queue_depth
    parameter LATENCY = 1,       // CoreConfig.result_queue_latency
    parameter CW = 4             // width of the harness' counters
) (
    input clk,
    input w_en,
    input [WIDTH-1:0] w_data,
    input r_en,
    input pick                   // follow the entry written in this cycle
);
    wire w_rdy, r_rdy;
    wire [WIDTH-1:0] r_data;

    `MADVQ_QUEUE queue (
        .clk(clk), .rst(1'b0),
        .w_en(w_en), .w_data(w_data), .w_rdy(w_rdy),
        .r_en(r_en), .r_data(r_data), .r_rdy(r_rdy)
    );

    wire write = w_en & w_rdy;
    wire read = r_en & r_rdy;

    // Entries written and not yet read.
    reg [CW-1:0] held = 0;
    always @(posedge clk)
        held <= held + write - read;

    // The followed entry.
    localparam IDLE = 2'd0, WAITING = 2'd1, DONE = 2'd2;
    reg [1:0] state = IDLE;
    reg [CW-1:0] ahead = 0;
    reg [WIDTH-1:0] expect_data = 0;
    always @(posedge clk)
        if (state == IDLE && write && pick) begin
            state <= WAITING;
            // Entries held now, less one read in this cycle, leave first.
            ahead <= held - read;
            expect_data <= w_data;
        end else if (state == WAITING && read) begin
            if (ahead == 0)
                state <= DONE;
            else
                ahead <= ahead - 1;
        end

    // The read side as the reader saw it in the previous cycle.
    reg offered = 0;
    reg [WIDTH-1:0] data_last = 0;
    always @(posedge clk) begin
        offered <= r_rdy & ~r_en;
        data_last <= r_data;
    end

    // Cycles in which entries are held but none is offered.
    reg [3:0] starved = 0;
    always @(posedge clk)
        starved <= (held != 0 && !r_rdy) ? starved + 1 : 0;

    always @* begin
        // (q1) the followed entry, whenever it is offered
        if (state == WAITING && ahead == 0 && r_rdy)
            queue_data_ok: assert (r_data == expect_data);
        // the harness' own invariant: the followed entry is still held
        queue_follow_ok: assert (state != WAITING || ahead < held);
        // (q2) nothing offered that was not written; never more held than DEPTH
        queue_no_entry_from_nothing: assert (!r_rdy || held != 0);
        queue_within_depth: assert (held <= DEPTH);
        // (q3) room for DEPTH entries
        queue_room: assert (held >= DEPTH || w_rdy);
        // (q4) the stream rule on the read side
        if (offered) begin
            queue_rdy_held: assert (r_rdy);
            queue_data_held: assert (r_data == data_last);
        end
        // (q5) nothing stuck
        queue_offered_in_time: assert (starved < LATENCY);
    end
endmodule
