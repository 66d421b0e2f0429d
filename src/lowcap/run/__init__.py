"""The run machinery: the core config, model plans, the results store, the unit trainer and
executors, and the run folder. It knows no study."""
