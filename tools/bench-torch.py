#!/usr/bin/env python3
# PyTorch CPU baseline for `purify bench --torch`: the Franfee MNIST DDPM ε-network, built from the
# same weights/franfee-ddpm-mnist.safetensors the engine loads (read here with the standard library:
# torch 1.13, Debian's python3-torch, has no safetensors reader), timed the way tools/bench/measure.ts
# times the engine (median of repeats after warm-up). Prints one JSON list of bench records.
# Usage: python3 tools/bench-torch.py WEIGHTS.safetensors THREADS BATCH...
import json
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {'F32': torch.float32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        header_len = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info['dtype']])
        tensors[name] = flat.reshape(info['shape'])
    return tensors


def franfee_eps(w, x, t):
    """The architecture of shared/data/README.md (and engine/reference/franfee-unet.ts)."""
    def conv(name, h, stride=1, padding=1):
        return F.conv2d(h, w[f'{name}.weight'], w[f'{name}.bias'], stride=stride, padding=padding)

    def linear(name, h):
        return F.linear(h, w[f'{name}.weight'], w[f'{name}.bias'])

    def block(name, h):
        ln = F.layer_norm(h, h.shape[1:], w[f'{name}.ln.weight'], w[f'{name}.ln.bias'])
        inner = F.relu(conv(f'{name}.conv1', ln))
        residual = conv(f'{name}.residual_conv', h, padding=0) if f'{name}.residual_conv.weight' in w else h
        return F.relu(conv(f'{name}.conv2', inner) + residual)

    emb = w['pe.embedding.weight'][t]
    levels = sum(1 for k in w if k.startswith('downs.') and k.endswith('.weight'))
    skips = []
    h = x
    for i in range(levels):
        time_vec = linear(f'pe_linears_en.{i}.2', F.relu(linear(f'pe_linears_en.{i}.0', emb)))
        h = block(f'encoders.{i}.1', block(f'encoders.{i}.0', h + time_vec[:, :, None, None]))
        skips.append(h)
        h = conv(f'downs.{i}', h, stride=2, padding=0)
    h = block('mid.1', block('mid.0', h + linear('pe_mid', emb)[:, :, None, None]))
    for j in range(levels):
        skip = skips.pop()
        up = F.conv_transpose2d(h, w[f'ups.{j}.weight'], w[f'ups.{j}.bias'], stride=2)
        dy, dx = skip.shape[2] - up.shape[2], skip.shape[3] - up.shape[3]
        up = F.pad(up, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        h = torch.cat([skip, up], 1) + linear(f'pe_linears_de.{j}', emb)[:, :, None, None]
        h = block(f'decoders.{j}.1', block(f'decoders.{j}.0', h))
    return conv('conv_out', h)


def median_ms(run, repeats, warmup=1):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main():
    path, threads, batches = sys.argv[1], int(sys.argv[2]), [int(b) for b in sys.argv[3:]]
    torch.set_num_threads(threads)
    w = read_safetensors(path)
    adapter = f'pytorch {torch.__version__} CPU, {threads} threads'
    records = []
    for batch in batches:
        x = torch.rand(batch, 1, 28, 28)
        t = torch.full((batch,), 50, dtype=torch.long)
        repeats = 7 if batch < 64 else 5

        def forward():
            with torch.no_grad():
                franfee_eps(w, x, t)

        def forward_and_input_grad():
            xg = x.clone().requires_grad_(True)
            franfee_eps(w, xg, t).sum().backward()

        for op, run in (('franfee-mnist UNet step', forward), ('franfee-mnist UNet step + input gradient', forward_and_input_grad)):
            ms = median_ms(run, repeats)
            records.append({'adapter': adapter, 'op': f'torch {op}', 'shape': f'batch {batch}', 'ms': ms, 'gpuMs': None,
                            'gflops': None, 'imagesPerSec': batch * 1000 / ms, 'repeats': repeats})
    print(json.dumps(records))


if __name__ == '__main__':
    main()
