FROM python:3.11-slim
# torch is pinned to 2.13.0 (CPU): give pip a folder or index holding that CPU build with
#   docker build --build-arg PIP_FIND_LINKS=/wheels ...   (a bare `pip install torch` pulls CUDA packages)
ARG PIP_FIND_LINKS=""
ENV PIP_FIND_LINKS=${PIP_FIND_LINKS}
# OCR and the converters for legacy Office, RTF and OpenDocument files (see the README's file formats).
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
        libreoffice-writer-nogui libreoffice-impress-nogui \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY freshrag ./freshrag
COPY freshrag_cli ./freshrag_cli
COPY services ./services
COPY workers ./workers
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["freshrag", "up", "--host", "0.0.0.0"]
