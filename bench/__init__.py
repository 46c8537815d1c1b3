"""`make bench` (python -m bench): lesson 04's deployment side by side with Node socket.io.

See bench/README.md for what is measured and how; results go to bench/results/.
"""
