"""Expected values for ingest/tests/iot.rs, read from the samples with Python's csv and json modules
(independently of tvilling). Run: python3 ingest/tests/expected/iot.py > ingest/tests/expected/iot.json"""
import csv, json, math
D = '../shared/data/iot/'
out = {}

def series(key, pts, quality=None):
    pts = sorted(pts)
    out[key] = {"count": len(pts), "first_time": pts[0][0], "first": pts[0][1],
                "last_time": pts[-1][0], "last": pts[-1][1]}
    if quality is not None:
        out[key]["quality_y"] = quality

lines = open(D + 'smhi-opendata_1_52240_20200905_163726.csv', encoding='utf-8-sig').read().splitlines()
start = [k for k, l in enumerate(lines) if l.startswith('Datum;')][0]
rows = [l.split(';') for l in lines[start + 1:] if l.strip()]
series('smhi:52240:Lufttemperatur', [(f"{r[0]}T{r[1]}Z", float(r[2])) for r in rows],
       sum(1 for r in rows if r[3] == 'Y'))

KEYS = ('sensor_id', 'sensor_type', 'location', 'lat', 'lon', 'timestamp')
points = {}
def community(records):
    # One datastream per (location, sensor, column): the 2017 JSON holds two locations of sensor 5331.
    cols = [c for c in records[0] if c not in KEYS and any(x.get(c) for x in records)]
    for x in records:
        for c in cols:
            if x.get(c):
                key = f"sensor.community:{x['location']}:{x['sensor_id']}:{c}"
                points.setdefault(key, []).append((x['timestamp'] + 'Z', float(x[c])))

for f in ['2018-05-02_sds011_sensor_5331.csv', '2018-05-02_dht22_sensor_5332.csv']:
    community(list(csv.DictReader(open(D + f), delimiter=';')))
community(json.load(open(D + '2017-10-08_sds011_sensor_5331.json')))
for key, pts in points.items():
    series(key, pts)
print(json.dumps(out, indent=1, sort_keys=True))
