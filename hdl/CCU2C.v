// CCU2C: a behavioural model of the Lattice ECP5 carry cell (two halves, each a LUT4 and one
// bit of the fast carry chain), written by madvq so that cores built with `--arithmetic
// ecp5` simulate in any Verilog simulator (Icarus Verilog, Verilator, commercial ones)
// without a vendor library. Synthesis for ECP5 uses the real cell instead: leave this file
// out of an FPGA build.
//
// Per half, with LUT4 = INIT[{D, C, B, A}] and LUT2 = INIT[{B, A}]:
//   INJECT1 = "NO":  S = LUT4 ^ CIN,  carry = LUT4 ? CIN : LUT2
//   INJECT1 = "YES": S = LUT4,        carry = LUT4 & CIN
// the second half taking the first half's carry as its CIN. This is the function of Yosys'
// own simulation model of the cell (madvq's tests prove the two equal).
//
// A chain that starts its own carry leaves the first cell's CIN unconnected (Z in a
// four-state simulator). madvq starts such a chain with a half whose propagate (LUT4) is 0:
// its carry is LUT2 whatever CIN is, and its sum, the only output that sees CIN, is unused.
module CCU2C #(
    parameter [15:0] INIT0 = 16'h0000,
    parameter [15:0] INIT1 = 16'h0000,
    parameter INJECT1_0 = "YES",
    parameter INJECT1_1 = "YES"
) (
    input CIN,
    input A0, B0, C0, D0,
    input A1, B1, C1, D1,
    output S0, S1, COUT
);
    wire lut4_0 = INIT0[{D0, C0, B0, A0}];
    wire lut2_0 = INIT0[{B0, A0}];
    wire carry_0 = (INJECT1_0 == "YES") ? (lut4_0 & CIN) : (lut4_0 ? CIN : lut2_0);
    assign S0 = (INJECT1_0 == "YES") ? lut4_0 : (lut4_0 ^ CIN);

    wire lut4_1 = INIT1[{D1, C1, B1, A1}];
    wire lut2_1 = INIT1[{B1, A1}];
    assign COUT = (INJECT1_1 == "YES") ? (lut4_1 & carry_0) : (lut4_1 ? carry_0 : lut2_1);
    assign S1 = (INJECT1_1 == "YES") ? lut4_1 : (lut4_1 ^ carry_0);
endmodule
