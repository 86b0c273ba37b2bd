"""One module per pipeline step, named by its task_id: what each task of the DAG computes."""
