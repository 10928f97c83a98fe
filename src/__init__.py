"""c4engine: a batched Connect4 reinforcement-learning training engine."""
import os

# torch's OpenMP pool and numba's thread pool spin-wait for work by default; on a machine
# with few cores they spin against each other (and against any other busy process), which
# made learner updates 10-40x slower on the 2-core CI box. Passive waiting costs nothing
# measurable here. Must be set before torch is imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
