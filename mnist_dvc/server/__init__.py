"""A local web app on the trained model: draw or photograph digits in the browser.

    python -m mnist_dvc serve [--host 127.0.0.1] [--port 8000] [--allow-host NAME] [--model FILE] [--own DIR]

The model is loaded once and kept; every image goes through the same photo → digits path as
`python -m mnist_dvc predict` (mnist_dvc.photo, mnist_dvc.reading). The modules, by job:

- serve.py: the command: listen, print the address, run uvicorn;
- app.py: the routes and create_app;
- guard.py: which Host and Origin a request may come with, and the headers on every answer;
- uploads.py: multipart forms read in memory within the size limits;
- model.py: the model holder and the threads that read photos;
- answers.py: the JSON of an answer and of an error.

The routes and the rules are described in docs/web-api.md.
"""
