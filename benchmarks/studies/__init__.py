"""One-off studies: each measured one question once, and its figures are committed under benchmarks/results/.

The first line of each module's docstring says what it measured and where its figures are;
benchmarks/README.md lists those lines.
"""
