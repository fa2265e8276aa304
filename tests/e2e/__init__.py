"""End-to-end tests: nb_oauth in a real JupyterLab 4 and Notebook 7, driven through headless Chromium."""
