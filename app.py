"""Run FieldKit: `python app.py` serves on http://127.0.0.1:5000 with SQLite and demo data."""
from fieldkit import create_app

app = create_app()

if __name__ == "__main__":
    from fieldkit.cli import prepare_for_first_run

    prepare_for_first_run(app)
    app.run(host="127.0.0.1", port=5000)
