"""Replay: check new workflow code against the histories of runs made with the old code."""
