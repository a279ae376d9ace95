"""madvq models and simulators: the bit-exact golden model and cycle-accurate simulation."""
