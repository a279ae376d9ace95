# What madvq adds to the Tang Nano 9K's timing constraints, for nextpnr-himbaechel (Gowin).
# `madvq build` fills in the clock.

# The core's clock ({clock_mhz} MHz): the 27 MHz oscillator (pin 52), or the rPLL when
# --clock asks for another frequency. Amaranth's Gowin flow writes no timing constraints, so
# madvq's platform writes the oscillator's create_clock above this file. nextpnr-himbaechel
# does not carry it through the rPLL (it would time the PLL's output at its 12 MHz default),
# so `madvq build` also gives nextpnr `--freq {clock_mhz}`, which applies to clocks without a
# constraint, and checks that the timing report's constraint is the built clock. (A net
# name of our own cannot be used here: synthesis renames the clock net.)

# Pins madvq uses (defined by the board file, listed here for reference):
#   uart rx 18 (from the BL702's USB-UART)   uart tx 17
#   led 0-3 (pins 10 11 13 14): the winner's index, bits 0-3
#   led 4 (15): a self-test is running        led 5 (16): error on the last frame
