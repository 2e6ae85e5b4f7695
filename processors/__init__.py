"""Processors and the runtime they share.

A processor team writes its transform (`Processor.transform`) and its store (`DerivedStore`);
consuming events, idempotency, acks, dead letters, registration and the query API come from here.
"""
