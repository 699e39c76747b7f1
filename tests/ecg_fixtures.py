"""
Writers of small ECG data sets in their real on-disk formats, for tests: WFDB records (`wfdb.wrsamp`), the PhysioNet
challenges' `.mat` + `.hea` with `#Dx:` lines, MIMIC-IV-ECG's and PTB-XL's CSV tables with their real columns,
CODE-test's HDF5, and a GE MUSE XML export. Signals are smooth, lead-specific and reproducible from a seed.
"""

import base64
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.io
import wfdb


STANDARD_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
MIMIC_LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
PTB_XL_LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
CHALLENGE_COMMENTS = ["Rx: Unknown", "Hx: Unknown", "Sx: Unknown"]


def ecg_signal(seed: int, num_samples: int = 5000, sampling_rate: float = 500.0, num_leads: int = 12) -> np.ndarray:
    """(samples, leads) in mV: a lead-specific sum of low-frequency sines (every lead differs from every other)."""
    rng = np.random.default_rng(seed)
    time = np.arange(num_samples) / sampling_rate
    frequencies = rng.uniform(0.5, 8.0, size=(num_leads, 3))
    amplitudes = rng.uniform(0.1, 1.0, size=(num_leads, 3))
    offsets = np.linspace(-0.5, 0.5, num_leads)
    signal = offsets[:, None] + np.einsum("lk,lkt->lt", amplitudes, np.sin(2 * np.pi * frequencies[..., None] * time))
    return signal.T


def write_wfdb_record(
    directory: Path, name: str, signal: np.ndarray, lead_names, sampling_rate: float, gain: float = 200.0, comments=()
) -> Path:
    """A format-16 WFDB record (`name.hea` + `name.dat`) written by `wfdb.wrsamp`; returns the header path."""
    directory.mkdir(parents=True, exist_ok=True)
    num_leads = signal.shape[1]
    wfdb.wrsamp(
        name,
        fs=sampling_rate,
        units=["mV"] * num_leads,
        sig_name=list(lead_names),
        p_signal=signal,
        fmt=["16"] * num_leads,
        adc_gain=[gain] * num_leads,
        baseline=[0] * num_leads,
        comments=list(comments),
        write_dir=str(directory),
    )
    return directory / f"{name}.hea"


def write_challenge_record(
    directory: Path,
    name: str,
    signal: np.ndarray,
    lead_names,
    sampling_rate: float,
    dx_codes=None,
    gain: float = 1000.0,
    age: int = 60,
) -> Path:
    """
    A PhysioNet challenge record: `name.mat` (MAT v4, int16 `val` of shape (leads, samples)) and `name.hea` naming it
    as format `16+24` with `#Age`, `#Sex`, `#Dx` (omitted when `dx_codes` is None), `#Rx`, `#Hx`, `#Sx` comments.
    """
    directory.mkdir(parents=True, exist_ok=True)
    digital = np.clip(np.round(signal.T * gain), -32767, 32767).astype(np.int16)
    scipy.io.savemat(directory / f"{name}.mat", {"val": digital}, format="4")
    lines = [f"{name} {len(lead_names)} {sampling_rate:g} {digital.shape[1]} 05-Feb-2020 11:39:16"]
    for lead, values in zip(lead_names, digital, strict=True):
        checksum = int(values.astype(np.int64).sum()) % 65536
        checksum = checksum - 65536 if checksum > 32767 else checksum
        lines.append(f"{name}.mat 16+24 {gain:g}/mV 16 0 {values[0]} {checksum} 0 {lead}")
    lines += [f"#Age: {age}", "#Sex: Male"]
    if dx_codes is not None:
        lines.append("#Dx: " + ",".join(dx_codes))
    lines += ["#" + comment for comment in CHALLENGE_COMMENTS]
    header = directory / f"{name}.hea"
    header.write_text("\n".join(lines) + "\n")
    return header


def mimic_record_path(subject_id: int, study_id: int) -> str:
    return f"files/p{str(subject_id)[:4]}/p{subject_id}/s{study_id}/{study_id}"


def write_mimic_iv_ecg(root: Path, records: list[dict]) -> Path:
    """
    A MIMIC-IV-ECG v1.0 tree. Each record: `subject_id`, `study_id`, `signal` ((5000, 12) mV in MIMIC's lead order,
    I, II, III, aVR, aVF, aVL, V1..V6, or `lead_names` to override) and `statements` (up to 18; `None` writes no
    machine-measurements row). Returns `root`.
    """
    record_rows, measurement_rows = [], []
    for record in records:
        subject_id, study_id = record["subject_id"], record["study_id"]
        path = mimic_record_path(subject_id, study_id)
        signal = record["signal"]
        write_wfdb_record(root / Path(path).parent, str(study_id), signal, record.get("lead_names", MIMIC_LEADS), 500)
        record_rows.append(
            {
                "subject_id": subject_id,
                "study_id": study_id,
                "file_name": study_id,
                "ecg_time": "2180-07-31 13:13:00",
                "path": path,
            }
        )
        if record["statements"] is not None:
            statements = list(record["statements"]) + [""] * (18 - len(record["statements"]))
            measurement_rows.append(
                {
                    "subject_id": subject_id,
                    "study_id": study_id,
                    "cart_id": 6848296,
                    "ecg_time": "2180-07-31 13:13:00",
                    **{f"report_{index}": text for index, text in enumerate(statements)},
                    "bandwidth": "0.5-150 Hz",
                    "filtering": "60 Hz notch Baseline filter",
                    "rr_interval": 659,
                    "p_onset": 40,
                    "p_end": 128,
                    "qrs_onset": 170,
                    "qrs_end": 258,
                    "t_end": 518,
                    "p_axis": 81,
                    "qrs_axis": 77,
                    "t_axis": 79,
                }
            )
    pd.DataFrame(record_rows).to_csv(root / "record_list.csv", index=False)
    pd.DataFrame(measurement_rows).to_csv(root / "machine_measurements.csv", index=False)
    return root


SCP_STATEMENTS = pd.DataFrame(
    [
        ["NORM", "normal ECG", 1.0, None, None, "NORM", "NORM", "Diagnostic", "normal ECG"],
        [
            "IMI",
            "inferior myocardial infarction",
            1.0,
            None,
            None,
            "MI",
            "IMI",
            "Myocardial Infarction",
            "inferior MI",
        ],
        ["LVH", "left ventricular hypertrophy", 1.0, None, None, "HYP", "LVH", "Hypertrophie", "LVH"],
        ["ABQRS", "abnormal QRS", None, 1.0, None, None, None, "Other ST-T descriptive statements", "abnormal QRS"],
        ["SR", "sinus rhythm", None, None, 1.0, None, None, "Rhythm", "sinus rhythm"],
    ],
    columns=[
        "",
        "description",
        "diagnostic",
        "form",
        "rhythm",
        "diagnostic_class",
        "diagnostic_subclass",
        "Statement Category",
        "SCP-ECG Statement Description",
    ],
)


def write_ptb_xl(root: Path, records: list[dict]) -> Path:
    """
    A PTB-XL 1.0.3 tree: `records500/NNNNN/NNNNN_hr` WFDB records (gain 1000, leads I..AVF upper case),
    `ptbxl_database.csv` and `scp_statements.csv`. Each record: `ecg_id`, `patient_id`, `strat_fold`, `signal`
    ((5000, 12) mV), `report`, `scp_codes` (dict).
    """
    rows = []
    for record in records:
        ecg_id = record["ecg_id"]
        folder = f"{ecg_id // 1000 * 1000:05d}"
        write_wfdb_record(
            root / "records500" / folder, f"{ecg_id:05d}_hr", record["signal"], PTB_XL_LEADS, 500, gain=1000
        )
        rows.append(
            {
                "ecg_id": ecg_id,
                "patient_id": float(record["patient_id"]),
                "age": 56.0,
                "sex": 1,
                "report": record["report"],
                "scp_codes": repr(record["scp_codes"]),
                "strat_fold": record["strat_fold"],
                "filename_lr": f"records100/{folder}/{ecg_id:05d}_lr",
                "filename_hr": f"records500/{folder}/{ecg_id:05d}_hr",
            }
        )
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    SCP_STATEMENTS.to_csv(root / "scp_statements.csv", index=False)
    return root


def write_code_test(root: Path, tracings: np.ndarray, labels: np.ndarray) -> Path:
    """CODE-test: `ecg_tracings.hdf5` (`tracings`, (N, 4096, 12) float32) and `annotations/gold_standard.csv`."""
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "ecg_tracings.hdf5", "w") as handle:
        handle.create_dataset("tracings", data=tracings.astype(np.float32))
    (root / "annotations").mkdir(exist_ok=True)
    pd.DataFrame(labels.astype(int), columns=["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]).to_csv(
        root / "annotations" / "gold_standard.csv", index=False
    )
    return root


def code_test_tracing(seed: int, seconds: float) -> np.ndarray:
    """(4096, 12) at 400 Hz: `seconds` of signal zero-padded equally on both sides, as the data set stores it."""
    length = int(seconds * 400)
    tracing = np.zeros((4096, 12))
    start = (4096 - length) // 2
    tracing[start : start + length] = ecg_signal(seed, length, 400.0)
    return tracing


def write_muse_xml(
    path: Path, leads: dict[str, np.ndarray], sampling_rate: int, statements, units_per_bit=4.88
) -> Path:
    """
    A GE MUSE `RestingECG` export: a Rhythm `<Waveform>` with one `<LeadData>` per lead (int16 little-endian,
    base64, `LeadAmplitudeUnitsPerBit` microvolts) and `<Diagnosis>` statements. `leads` maps names to mV.
    """
    lead_blocks = []
    for name, millivolts in leads.items():
        digital = np.round(millivolts * 1000.0 / units_per_bit).astype("<i2")
        lead_blocks.append(
            f"""
      <LeadData>
        <LeadByteCountTotal>{digital.nbytes}</LeadByteCountTotal>
        <LeadTimeOffset>0</LeadTimeOffset>
        <LeadSampleCountTotal>{digital.size}</LeadSampleCountTotal>
        <LeadAmplitudeUnitsPerBit>{units_per_bit}</LeadAmplitudeUnitsPerBit>
        <LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits>
        <LeadHighLimit>32767</LeadHighLimit>
        <LeadLowLimit>-32768</LeadLowLimit>
        <LeadID>{name}</LeadID>
        <LeadOffsetFirstSample>0</LeadOffsetFirstSample>
        <FirstSampleBaseline>0</FirstSampleBaseline>
        <LeadSampleSize>2</LeadSampleSize>
        <LeadOff>FALSE</LeadOff>
        <BaselineSway>FALSE</BaselineSway>
        <WaveFormData>{base64.b64encode(digital.tobytes()).decode()}</WaveFormData>
      </LeadData>"""
        )
    statement_blocks = "".join(
        f"<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>{text}</StmtText></DiagnosisStatement>"
        for text in statements
    )
    path.write_text(
        f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE RestingECG SYSTEM "restecg.dtd">
<RestingECG>
  <MuseInfo><MuseVersion>8.0.2.10132</MuseVersion></MuseInfo>
  <PatientDemographics><PatientID>0000001</PatientID></PatientDemographics>
  <TestDemographics><DataType>RESTING</DataType><Site>1</Site></TestDemographics>
  <Diagnosis><Modality>RESTING</Modality>{statement_blocks}</Diagnosis>
  <Waveform>
    <WaveformType>Median</WaveformType>
    <SampleBase>500</SampleBase>
  </Waveform>
  <Waveform>
    <WaveformType>Rhythm</WaveformType>
    <WaveformStartTime>0</WaveformStartTime>
    <NumberofLeads>{len(leads)}</NumberofLeads>
    <SampleType>CONTINUOUS_SAMPLES</SampleType>
    <SampleBase>{sampling_rate}</SampleBase>
    <SampleExponent>0</SampleExponent>
    <HighPassFilter>16</HighPassFilter>
    <LowPassFilter>150</LowPassFilter>
    <ACFilter>60</ACFilter>{"".join(lead_blocks)}
  </Waveform>
</RestingECG>
""",
        encoding="ISO-8859-1",
    )
    return path


def write_cardiosoft_xml(
    path: Path, leads: dict[str, np.ndarray], sampling_rate: int, statements, resolution=5.0
) -> Path:
    """A GE CardioSoft `CardiologyXML` export: `<StripData>` with comma-separated samples per lead (uV per LSB)."""
    waveforms = "".join(
        f'<WaveformData lead="{name}">{",".join(map(str, np.round(millivolts * 1000.0 / resolution).astype(int)))}'
        "</WaveformData>"
        for name, millivolts in leads.items()
    )
    diagnoses = "".join(f"<DiagnosisText>{text}</DiagnosisText>" for text in statements)
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<CardiologyXML>
  <ObservationType>RestECG</ObservationType>
  <Interpretation><Diagnosis>{diagnoses}</Diagnosis></Interpretation>
  <StripData>
    <NumberOfLeads>{len(leads)}</NumberOfLeads>
    <SampleRate units="Hz">{sampling_rate}</SampleRate>
    <ChannelSampleCountTotal>{len(next(iter(leads.values())))}</ChannelSampleCountTotal>
    <Resolution units="uVperLsb">{resolution}</Resolution>
    {waveforms}
  </StripData>
</CardiologyXML>
""",
        encoding="utf-8",
    )
    return path


def rewrite_header(header: Path, edit, encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Rewrite a WFDB header in place: `edit(lines) -> lines` (the record line first, then the signal lines)."""
    lines = edit(header.read_text(encoding="latin-1").splitlines())
    header.write_bytes(newline.join(lines).encode(encoding) + newline.encode(encoding))
    return header


def set_signal_field(line: str, position: int, value: str) -> str:
    """A WFDB signal line with its whitespace-separated field `position` (0: file, 1: format, 2: gain/units) set."""
    fields = line.split(" ")
    fields[position] = value
    return " ".join(fields)
