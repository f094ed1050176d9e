"""Connected Outputs: output kinds, feed-to-output connections, the outbox and its delivery worker.

See docs/outputs.md for the delivery semantics the code relies on.
"""
