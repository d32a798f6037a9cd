# Superposition Explorer: the server on port 8000, training on the CPU by default.
#   docker build -t superposition-explorer .
#   docker run -p 8000:8000 -v "$PWD/models_cache:/app/models_cache" superposition-explorer
# For CUDA, build with a CUDA wheel index of PyTorch and run with the GPUs (see README.md).
FROM python:3.11-slim

# Which PyTorch wheel index to install torch from: CPU by default, a CUDA one for GPUs.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SUPERPOSITION_HOST=0.0.0.0 \
    SUPERPOSITION_PORT=8000 \
    SUPERPOSITION_CACHE_DIR=/app/models_cache

WORKDIR /app
# torch first, in its own layer: it is by far the largest and changes least.
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

# Optional extras, e.g. --build-arg EXTRAS='[ray]' for the Ray backend (README.md, "Many machines").
ARG EXTRAS=""

COPY pyproject.toml README.md ./
COPY server ./server
COPY frontend ./frontend
# force-included into the wheel (pyproject.toml): served at /THEORY.md
COPY docs/THEORY.md ./docs/THEORY.md
RUN pip install ".${EXTRAS}" && mkdir -p /app/models_cache
# Compile the fused training step (numba) into the image's cache, so a container's first
# request does not wait for it (numba recompiles if the CPU differs from the build machine's).
RUN python -c "from server.tms import fused; fused.warm()"

EXPOSE 8000
VOLUME /app/models_cache
CMD ["superposition-explorer"]
