import LiftCAM
print("liftcam-bench: no benchmarks yet")
